package facematch

import (
	"context"
	"time"
)

// Tenancy manages organizations, applications and API keys.
type Tenancy interface {
	CreateOrganization(ctx context.Context, name string, credits int64) (Organization, error)
	// AddCredits adds amount (negative removes) to an organization's balance and returns it; a
	// balance may not go below zero.
	AddCredits(ctx context.Context, orgID string, amount int64) (Organization, error)
	CreateApplication(ctx context.Context, orgID, name string, mode Mode) (Application, error)
	Application(ctx context.Context, appID string) (Application, error)
	CreateAPIKey(ctx context.Context, key APIKey) (APIKey, error)
	RevokeAPIKey(ctx context.Context, keyID string) error
	KeyFinder
	Organization(ctx context.Context, orgID string) (Organization, error)
}

// KeyFinder finds the key a request presents: all that authenticating a request needs.
type KeyFinder interface {
	// APIKey returns a key and its application, ENOTFOUND when there is no such key.
	APIKey(ctx context.Context, keyID string) (APIKey, Application, error)
}

// RateDecision is the outcome of taking one request from a rate-limit budget.
type RateDecision struct {
	Allowed   bool
	Limit     int
	Remaining int
	// Reset is when the window will have room for one more request.
	Reset time.Time
}

// RateLimiter counts requests per key and bucket in a sliding window (FM-RL-1). A refused
// request is not counted.
type RateLimiter interface {
	TakeRequest(ctx context.Context, keyID, bucket string, limit int, window time.Duration) (RateDecision, error)
}

// Reservation is a credit taken from an organization's balance while a live call runs.
type Reservation struct {
	ID    string
	OrgID string
}

// Credits reserves credits before processing and keeps or returns them after (FM-BILL-1/2).
type Credits interface {
	// ReserveCredit takes one credit or fails with ENOCREDITS; the balance never goes below 0.
	ReserveCredit(ctx context.Context, orgID, requestID string) (Reservation, error)
	// ConsumeCredit makes a reservation final, for a 200 that stores no session.
	ConsumeCredit(ctx context.Context, r Reservation) error
	// ReleaseCredit gives a reserved credit back.
	ReleaseCredit(ctx context.Context, r Reservation) error
}

// Sessions persists saved face-match calls and their images.
type Sessions interface {
	// CreateSession writes the session, both images and the consumption of its credit in one
	// transaction, and assigns the session's number.
	CreateSession(ctx context.Context, s NewSession) (Session, error)
	// Session returns a session of the application, ENOTFOUND otherwise (FM-AUTH-3, FM-SES-3).
	Session(ctx context.Context, appID, id string) (Session, error)
	// SessionImage returns a stored image of a session by kind.
	SessionImage(ctx context.Context, sessionID, kind string) (StoredImage, error)
	// DeleteSession removes a session of the application and its images.
	DeleteSession(ctx context.Context, appID, id string) error
}

// Leases let several servers share one store (FM-SCALE-3). Each store handle is one owner:
// the credits it reserves and the deliveries it claims are recorded under its lease, which a
// running server renews; once a lease lapsed (its process died), any other server gives back
// what it held. A starting server never touches work whose owner's lease is live.
type Leases interface {
	// RenewLease takes or extends this handle's lease until ttl from now.
	RenewLease(ctx context.Context, ttl time.Duration) error
	// ReclaimLapsed returns the credits reserved and frees the deliveries claimed by owners
	// without a live lease, forgets their leases, and reports how many of each it freed.
	ReclaimLapsed(ctx context.Context) (credits, deliveries int, err error)
	// EndLease drops this handle's lease, at a clean stop once its requests have finished.
	EndLease(ctx context.Context) error
}

// Store is everything the service keeps, on SQLite (one server) or PostgreSQL (replicas);
// every method is safe for concurrent use and exact across processes sharing the store.
type Store interface {
	Tenancy
	RateLimiter
	Credits
	Sessions
	Webhooks
	Leases
	// Secret returns a named random secret of the deployment, creating it on first use, so that
	// every replica signs with the same key.
	Secret(ctx context.Context, name string) ([]byte, error)
	Ping(ctx context.Context) error
	Close() error
}
