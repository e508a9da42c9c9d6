package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
)

// CreateOrganization creates an organization with an initial balance, recorded as a grant.
func (db *DB) CreateOrganization(ctx context.Context, name string, credits int64) (_ facematch.Organization, err error) {
	defer wrapOp(&err, "postgres.CreateOrganization")
	name = strings.TrimSpace(name)
	if name == "" {
		return facematch.Organization{}, facematch.Errorf(facematch.EINVALID, "an organization needs a name")
	}
	if credits < 0 {
		return facematch.Organization{}, facematch.Errorf(facematch.EINVALID, "initial credits must not be negative")
	}
	o := facematch.Organization{ID: newID(), Name: name, Credits: credits, CreatedAt: db.Now().UTC()}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, credits, created_us) VALUES ($1, $2, $3, $4)`,
			o.ID, o.Name, o.Credits, micros(o.CreatedAt)); err != nil {
			return err
		}
		return grant(ctx, tx, o.ID, credits, micros(o.CreatedAt))
	})
	return o, err
}

func grant(ctx context.Context, tx pgx.Tx, orgID string, amount, atUS int64) error {
	if amount == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO credit_ledger (org_id, amount, reason, created_us) VALUES ($1, $2, 'grant', $3)`, orgID, amount, atUS)
	return err
}

// AddCredits changes a balance by amount; removing more than the balance holds is refused.
func (db *DB) AddCredits(ctx context.Context, orgID string, amount int64) (_ facematch.Organization, err error) {
	defer wrapOp(&err, "postgres.AddCredits")
	var o facematch.Organization
	err = db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE organizations SET credits = credits + $1 WHERE id = $2 AND credits + $1 >= 0`, amount, orgID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if _, err := organization(ctx, tx, orgID); err != nil {
				return err
			}
			return facematch.Errorf(facematch.EINVALID, "organization %s holds fewer than %d credits", orgID, -amount)
		}
		if err := grant(ctx, tx, orgID, amount, micros(db.Now())); err != nil {
			return err
		}
		o, err = organization(ctx, tx, orgID)
		return err
	})
	return o, err
}

// queryer is what a transaction and the pool have in common.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func organization(ctx context.Context, q queryer, id string) (facematch.Organization, error) {
	var o facematch.Organization
	var created int64
	err := q.QueryRow(ctx, `SELECT id, name, credits, created_us FROM organizations WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.Credits, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, notFound("organization " + id)
	}
	o.CreatedAt = fromMicros(created)
	return o, err
}

// Organization returns an organization and its balance.
func (db *DB) Organization(ctx context.Context, id string) (_ facematch.Organization, err error) {
	defer wrapOp(&err, "postgres.Organization")
	return organization(ctx, db.pool, id)
}

// CreateApplication creates an application of an organization.
func (db *DB) CreateApplication(ctx context.Context, orgID, name string, mode facematch.Mode) (_ facematch.Application, err error) {
	defer wrapOp(&err, "postgres.CreateApplication")
	name = strings.TrimSpace(name)
	if name == "" {
		return facematch.Application{}, facematch.Errorf(facematch.EINVALID, "an application needs a name")
	}
	if mode != facematch.ModeLive && mode != facematch.ModeSandbox {
		return facematch.Application{}, facematch.Errorf(facematch.EINVALID, "mode must be live or sandbox")
	}
	a := facematch.Application{ID: newID(), OrgID: orgID, Name: name, Mode: mode, CreatedAt: db.Now().UTC()}
	tag, err := db.pool.Exec(ctx, `INSERT INTO applications (id, org_id, name, mode, created_us)
		SELECT $1, id, $3, $4, $5 FROM organizations WHERE id = $2`,
		a.ID, a.OrgID, a.Name, string(a.Mode), micros(a.CreatedAt))
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("organization " + orgID)
	}
	return a, err
}

// Application returns an application.
func (db *DB) Application(ctx context.Context, id string) (_ facematch.Application, err error) {
	defer wrapOp(&err, "postgres.Application")
	var (
		a       facematch.Application
		mode    string
		created int64
	)
	err = db.pool.QueryRow(ctx, `SELECT id, org_id, name, mode, created_us FROM applications WHERE id = $1`, id).
		Scan(&a.ID, &a.OrgID, &a.Name, &mode, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("application " + id)
	}
	a.Mode, a.CreatedAt = facematch.Mode(mode), fromMicros(created)
	return a, err
}

// CreateAPIKey stores a key (its id and the hash of its secret) for an application.
func (db *DB) CreateAPIKey(ctx context.Context, k facematch.APIKey) (_ facematch.APIKey, err error) {
	defer wrapOp(&err, "postgres.CreateAPIKey")
	k.CreatedAt = db.Now().UTC()
	tag, err := db.pool.Exec(ctx, `INSERT INTO api_keys (id, app_id, secret_hash, created_us)
		SELECT $1, id, $3, $4 FROM applications WHERE id = $2`,
		k.ID, k.AppID, k.SecretHash, micros(k.CreatedAt))
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("application " + k.AppID)
	}
	return k, err
}

// RevokeAPIKey revokes a key; revoking it again is harmless.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) (err error) {
	defer wrapOp(&err, "postgres.RevokeAPIKey")
	tag, err := db.pool.Exec(ctx, `UPDATE api_keys SET revoked_us = COALESCE(revoked_us, $1) WHERE id = $2`, micros(db.Now()), id)
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("key " + id)
	}
	return err
}

// APIKey returns a key and its application, in one statement (every request runs it).
func (db *DB) APIKey(ctx context.Context, id string) (_ facematch.APIKey, _ facematch.Application, err error) {
	defer wrapOp(&err, "postgres.APIKey")
	var (
		k                   facematch.APIKey
		a                   facematch.Application
		keyCreated, appMade int64
		revoked             *int64
		mode                string
	)
	err = db.pool.QueryRow(ctx, `
		SELECT k.id, k.app_id, k.secret_hash, k.created_us, k.revoked_us, a.org_id, a.name, a.mode, a.created_us
		FROM api_keys k JOIN applications a ON a.id = k.app_id WHERE k.id = $1`, id).
		Scan(&k.ID, &k.AppID, &k.SecretHash, &keyCreated, &revoked, &a.OrgID, &a.Name, &mode, &appMade)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, a, notFound("key")
	}
	if err != nil {
		return k, a, err
	}
	k.CreatedAt = fromMicros(keyCreated)
	if revoked != nil {
		t := fromMicros(*revoked)
		k.RevokedAt = &t
	}
	a.ID, a.Mode, a.CreatedAt = k.AppID, facematch.Mode(mode), fromMicros(appMade)
	return k, a, nil
}
