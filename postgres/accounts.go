package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/facematch/facematch"
)

// CreateAccount stores a console account; the email is kept lower-case and must be free.
func (db *DB) CreateAccount(ctx context.Context, a facematch.Account) (_ facematch.Account, err error) {
	defer wrapOp(&err, "postgres.CreateAccount")
	a.ID = newID()
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	a.CreatedAt = db.Now().UTC()
	tag, err := db.pool.Exec(ctx, `INSERT INTO accounts (id, org_id, email, admin, password_hash, created_us)
		SELECT $1, id, $3, $4, $5, $6 FROM organizations WHERE id = $2`,
		a.ID, a.OrgID, a.Email, a.Admin, a.PasswordHash, micros(a.CreatedAt))
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "23505":
		return a, facematch.Errorf(facematch.EINVALID, "an account with email %s already exists", a.Email)
	case err == nil && tag.RowsAffected() == 0:
		return a, notFound("organization " + a.OrgID)
	}
	return a, err
}

const accountColumns = `a.id, a.org_id, a.email, a.admin, a.password_hash, a.created_us`

// AccountByEmail returns the account of an email, whatever its case.
func (db *DB) AccountByEmail(ctx context.Context, email string) (_ facematch.Account, err error) {
	defer wrapOp(&err, "postgres.AccountByEmail")
	var (
		a       facematch.Account
		created int64
	)
	err = db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE a.email = $1`, strings.ToLower(strings.TrimSpace(email))).
		Scan(&a.ID, &a.OrgID, &a.Email, &a.Admin, &a.PasswordHash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("account")
	}
	a.CreatedAt = fromMicros(created)
	return a, err
}

// LoginLockedUntil returns the end of the email's lock when it is still locked at now.
func (db *DB) LoginLockedUntil(ctx context.Context, email string, now time.Time) (_ *time.Time, err error) {
	defer wrapOp(&err, "postgres.LoginLockedUntil")
	var until int64
	err = db.pool.QueryRow(ctx, `SELECT until_us FROM login_locks WHERE email = $1 AND until_us > $2`, strings.ToLower(email), micros(now)).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := fromMicros(until)
	return &t, nil
}

// LoginFailed records a failed login of an email and locks it when it is the max-th within
// window. Failures of one email are counted one after the other across replicas: the
// transaction holds an advisory lock on the email.
func (db *DB) LoginFailed(ctx context.Context, email string, now time.Time, max int, window, lockFor time.Duration) (_ *time.Time, err error) {
	defer wrapOp(&err, "postgres.LoginFailed")
	email = strings.ToLower(email)
	var locked *time.Time
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('login:' || $1, 0))`, email); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE email = $1 AND at_us <= $2`, email, micros(now.Add(-window))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO login_failures (email, at_us) VALUES ($1, $2)`, email, micros(now)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM login_failures WHERE email = $1`, email).Scan(&n); err != nil {
			return err
		}
		if n < max {
			return nil
		}
		until := now.Add(lockFor)
		locked = &until
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE email = $1`, email); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO login_locks (email, until_us) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET until_us = excluded.until_us`, email, micros(until))
		return err
	})
	return locked, err
}

// LoginSucceeded forgets an email's failed logins.
func (db *DB) LoginSucceeded(ctx context.Context, email string) (err error) {
	defer wrapOp(&err, "postgres.LoginSucceeded")
	_, err = db.pool.Exec(ctx, `DELETE FROM login_failures WHERE email = $1`, strings.ToLower(email))
	return err
}

// CreateLogin stores a console session, and drops expired ones.
func (db *DB) CreateLogin(ctx context.Context, l facematch.Login) (err error) {
	defer wrapOp(&err, "postgres.CreateLogin")
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_logins WHERE expires_us <= $1`, micros(l.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_logins (token_hash, account_id, csrf, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)`,
			l.TokenHash, l.AccountID, l.CSRF, micros(l.CreatedAt), micros(l.ExpiresAt))
		return err
	})
}

// LoginByToken returns an unexpired console session and its account.
func (db *DB) LoginByToken(ctx context.Context, tokenHash []byte, now time.Time) (_ facematch.Login, _ facematch.Account, err error) {
	defer wrapOp(&err, "postgres.LoginByToken")
	var (
		l                            facematch.Login
		a                            facematch.Account
		created, expires, accCreated int64
	)
	err = db.pool.QueryRow(ctx, `SELECT l.token_hash, l.account_id, l.csrf, l.created_us, l.expires_us, `+accountColumns+`
		FROM console_logins l JOIN accounts a ON a.id = l.account_id WHERE l.token_hash = $1 AND l.expires_us > $2`, tokenHash, micros(now)).
		Scan(&l.TokenHash, &l.AccountID, &l.CSRF, &created, &expires, &a.ID, &a.OrgID, &a.Email, &a.Admin, &a.PasswordHash, &accCreated)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, a, notFound("login")
	}
	l.CreatedAt, l.ExpiresAt, a.CreatedAt = fromMicros(created), fromMicros(expires), fromMicros(accCreated)
	return l, a, err
}

// DeleteLogin ends a console session.
func (db *DB) DeleteLogin(ctx context.Context, tokenHash []byte) (err error) {
	defer wrapOp(&err, "postgres.DeleteLogin")
	_, err = db.pool.Exec(ctx, `DELETE FROM console_logins WHERE token_hash = $1`, tokenHash)
	return err
}
