package facematch

import (
	"context"
	"time"
)

// KeyInfo is what an operator may see of an API key: never the key, nor its hash.
type KeyInfo struct {
	ID    string `json:"id"`
	AppID string `json:"app"`
	// Prefix is the key's public start, fm_<mode>_<id>_, by which its holder recognises it.
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// KeyPrefix is the public start of a key of an application of mode with id: what a key list
// shows, since the secret that follows is kept only as a hash.
func KeyPrefix(mode Mode, id string) string {
	return "fm_" + string(mode) + "_" + id + "_"
}

// SessionFilter selects the sessions of one application for a listing, newest first.
type SessionFilter struct {
	AppID string
	// VendorData, when not nil, keeps the sessions saved with exactly that vendor_data.
	VendorData *string
	// Limit is the most sessions listed; 0 lists all of them.
	Limit int
}

// Admin is what the operator's read and clean-up commands need from a store (spec section 6):
// listings that show what exists and the retention of saved sessions.
type Admin interface {
	// ListOrganizations returns every organization with its balance, oldest first.
	ListOrganizations(ctx context.Context) ([]Organization, error)
	// ListApplications returns an organization's applications, oldest first; ENOTFOUND when
	// there is no such organization.
	ListApplications(ctx context.Context, orgID string) ([]Application, error)
	// ListAPIKeys returns an application's keys, oldest first, each with when it last had a
	// request counted; ENOTFOUND when there is no such application.
	ListAPIKeys(ctx context.Context, appID string) ([]KeyInfo, error)
	// ListSessions returns an application's saved sessions, newest first; ENOTFOUND when there is
	// no such application.
	ListSessions(ctx context.Context, f SessionFilter) ([]Session, error)
	// PurgeSessions deletes the sessions created before t, with their images, of one application
	// or (appID empty) of all, and returns how many it deleted. It deletes in small transactions
	// so that a server using the store waits only briefly.
	PurgeSessions(ctx context.Context, before time.Time, appID string) (int64, error)
}
