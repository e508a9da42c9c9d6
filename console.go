package facematch

import (
	"context"
	"time"
)

// Account is a person who logs in to the console (FM-CON-1). It sees its organization only,
// or, when Admin, every organization (FM-CON-5). Only a slow hash of its password is kept.
type Account struct {
	ID           string
	OrgID        string
	Email        string
	Admin        bool
	PasswordHash []byte
	CreatedAt    time.Time
}

// Login is a console session on the server: the cookie carries a random token of which only a
// hash is kept, and CSRF is the token every state-changing form must send back (FM-CON-1).
type Login struct {
	TokenHash []byte
	AccountID string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Accounts keeps console accounts, their logins and their failed attempts (FM-CON-1).
type Accounts interface {
	// CreateAccount stores an account; an email already taken is EINVALID.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// AccountByEmail returns the account of an email (compared without case), ENOTFOUND otherwise.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// LoginLockedUntil returns when the email's lock ends, or nil when it is not locked at now.
	LoginLockedUntil(ctx context.Context, email string, now time.Time) (*time.Time, error)
	// LoginFailed records a failed login; when it is the max-th within window, the email is
	// locked for lockFor, and the end of the lock is returned.
	LoginFailed(ctx context.Context, email string, now time.Time, max int, window, lockFor time.Duration) (*time.Time, error)
	// LoginSucceeded forgets the email's failed logins.
	LoginSucceeded(ctx context.Context, email string) error
	CreateLogin(ctx context.Context, l Login) error
	// LoginByToken returns an unexpired login and its account, ENOTFOUND otherwise.
	LoginByToken(ctx context.Context, tokenHash []byte, now time.Time) (Login, Account, error)
	// DeleteLogin ends a login on the server (logging out).
	DeleteLogin(ctx context.Context, tokenHash []byte) error
}

// DayCount is the number of saved calls of one day (UTC) by outcome, for the overview's chart.
type DayCount struct {
	Day      time.Time
	Approved int
	Declined int
	NoFace   int
}

// DeliveryLog is a webhook delivery with every attempt made, as the console shows it (FM-CON-3,
// FM-CON-4).
type DeliveryLog struct {
	ID            string
	DestinationID string
	Destination   string // the destination's label
	SessionID     string
	Event         string
	State         string // pending, delivered, failed
	CreatedAt     time.Time
	Attempts      []Attempt
}

// AuditEntry records who did what and when: key creation and revocation, credit changes and
// deletes made in the console or by the operator (FM-CON-5).
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // the account's email, or "cli"
	OrgID  string
	Action string // e.g. key.create, key.revoke, credits.add, session.delete
	Target string
	Detail string
}

// AuditLog records who did what and when (FM-CON-5).
type AuditLog interface {
	RecordAudit(ctx context.Context, e AuditEntry) error
}

// Console is what the console reads and changes, beside the accounts. Every scoped read takes
// the id that scopes it; the console checks organizations before it calls them (FM-CON-5).
type Console interface {
	Accounts
	SessionQuerier
	Organization(ctx context.Context, orgID string) (Organization, error)
	ListOrganizations(ctx context.Context) ([]Organization, error)
	CreateOrganization(ctx context.Context, name string, credits int64) (Organization, error)
	AddCredits(ctx context.Context, orgID string, amount int64) (Organization, error)
	ListApplications(ctx context.Context, orgID string) ([]Application, error)
	Application(ctx context.Context, appID string) (Application, error)
	ListAPIKeys(ctx context.Context, appID string) ([]KeyInfo, error)
	CreateAPIKey(ctx context.Context, key APIKey) (APIKey, error)
	RevokeAPIKey(ctx context.Context, keyID string) error
	// SessionByID returns a session whatever its application, ENOTFOUND when there is none.
	SessionByID(ctx context.Context, id string) (Session, error)
	SessionImage(ctx context.Context, sessionID, kind string) (StoredImage, error)
	DeleteSession(ctx context.Context, appID, id string) error
	// SessionDeliveries lists the webhook deliveries of a session with their attempts.
	SessionDeliveries(ctx context.Context, sessionID string) ([]DeliveryLog, error)
	Destinations(ctx context.Context, appID string) ([]Destination, error)
	Destination(ctx context.Context, appID, id string) (Destination, error)
	CreateDestination(ctx context.Context, d Destination) (Destination, error)
	UpdateDestination(ctx context.Context, appID, id string, u DestinationUpdate) (Destination, error)
	// DestinationDeliveries lists a destination's latest deliveries with their attempts.
	DestinationDeliveries(ctx context.Context, destinationID string, limit int) ([]DeliveryLog, error)
	// EnqueueDelivery queues one event for one destination, due now, whatever it subscribes to
	// (the console's test event).
	EnqueueDelivery(ctx context.Context, destinationID, event string, body []byte) (string, error)
	// DailyCounts counts an organization's saved calls per UTC day from from on.
	DailyCounts(ctx context.Context, orgID string, from time.Time) ([]DayCount, error)
	AuditLog
	// AuditLog lists the latest entries, of one organization or, with orgID empty, of all.
	AuditLog(ctx context.Context, orgID string, limit int) ([]AuditEntry, error)
}
