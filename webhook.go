package facematch

import (
	"context"
	"time"
)

// EventStatusUpdated is the one webhook event this API emits: a saved session got its decision
// (FM-WH-2).
const EventStatusUpdated = "status.updated"

// WebhookEvents are the event names the provider documents for a destination's
// subscribed_events (FM-WH-1). A destination may subscribe to any of them, so that SDKs and
// configurations written for the provider work unchanged; this API emits only
// EventStatusUpdated, and the others are only stored.
var WebhookEvents = []string{
	EventStatusUpdated, "data.updated", "user.status.updated", "user.data.updated",
	"business.status.updated", "business.data.updated", "activity.created",
	"transaction.created", "transaction.status.updated",
}

// WebhookVersions are the payload versions a destination may ask for (FM-WH-1).
var WebhookVersions = []string{"v1", "v2", "v3"}

// DefaultWebhookVersion is the payload version of a destination created without one.
const DefaultWebhookVersion = "v3"

// Destination is an application's webhook endpoint (FM-WH-1). Secret signs every delivery.
type Destination struct {
	ID               string
	AppID            string
	Label            string
	URL              string
	SubscribedEvents []string
	Enabled          bool
	Secret           string
	// WebhookVersion is the payload version the destination asked for (WebhookVersions).
	WebhookVersion string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// DestinationUpdate changes the fields that are set; Secret, when set, replaces the secret.
type DestinationUpdate struct {
	Label            *string
	URL              *string
	SubscribedEvents []string
	Enabled          *bool
	Secret           *string
	WebhookVersion   *string
}

// Delivery is one event queued for one destination (FM-WH-4). Its ID is the webhook id, the
// same on every attempt; URL and Secret are the destination's at the time it is claimed.
type Delivery struct {
	ID            string
	DestinationID string
	SessionID     string
	Event         string
	Body          []byte
	Attempts      int // attempts made before this one
	URL           string
	Secret        string
}

// Attempt is the record of one try to deliver: the HTTP status (0 without an answer), the
// time to the answer, and the error when there was one.
type Attempt struct {
	At         time.Time
	StatusCode int
	Latency    time.Duration
	Err        string
	OK         bool
}

// DeliverySummary sums up the attempts made to a destination.
type DeliverySummary struct {
	Total, Failed  int
	MinResponse    *time.Duration
	AvgResponse    *time.Duration
	MaxResponse    *time.Duration
	LastDeliveryAt *time.Time
}

// Webhooks keeps destinations and the durable outbox of deliveries. Deliveries are queued by
// CreateSession, in the session's transaction.
type Webhooks interface {
	Destinations
	Outbox
}

// Destinations keeps an application's webhook destinations (FM-WH-1): what the HTTP API manages.
type Destinations interface {
	CreateDestination(ctx context.Context, d Destination) (Destination, error)
	Destinations(ctx context.Context, appID string) ([]Destination, error)
	Destination(ctx context.Context, appID, id string) (Destination, error)
	UpdateDestination(ctx context.Context, appID, id string, u DestinationUpdate) (Destination, error)
	DeleteDestination(ctx context.Context, appID, id string) error
	DeliverySummary(ctx context.Context, destinationID string) (DeliverySummary, error)
}

// Outbox is the durable queue of deliveries that the dispatcher works through (FM-WH-4).
type Outbox interface {
	// ClaimDeliveries leases up to limit due deliveries of enabled destinations for lease, so
	// that no other worker, of this process or another, attempts them meanwhile.
	ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]Delivery, error)
	// FinishAttempt records an attempt and the delivery's fate: delivered when a.OK, otherwise
	// retried at retryAt, or failed for good when retryAt is nil.
	FinishAttempt(ctx context.Context, d Delivery, a Attempt, retryAt *time.Time) error
}
