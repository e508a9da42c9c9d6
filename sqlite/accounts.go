package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/facematch/facematch"
)

// CreateAccount stores a console account; the email is kept lower-case and must be free.
func (db *DB) CreateAccount(ctx context.Context, a facematch.Account) (_ facematch.Account, err error) {
	defer wrapOp(&err, "sqlite.CreateAccount")
	a.ID = newID()
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	a.CreatedAt = db.Now().UTC()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := organization(ctx, tx, a.OrgID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE email = ?`, a.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return facematch.Errorf(facematch.EINVALID, "an account with email %s already exists", a.Email)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, org_id, email, admin, password_hash, created_us) VALUES (?, ?, ?, ?, ?, ?)`,
			a.ID, a.OrgID, a.Email, a.Admin, a.PasswordHash, micros(a.CreatedAt))
		return err
	})
	return a, err
}

const accountColumns = `id, org_id, email, admin, password_hash, created_us`

func scanAccount(sc interface{ Scan(...any) error }) (facematch.Account, error) {
	var (
		a       facematch.Account
		created int64
	)
	err := sc.Scan(&a.ID, &a.OrgID, &a.Email, &a.Admin, &a.PasswordHash, &created)
	a.CreatedAt = fromMicros(created)
	return a, err
}

// AccountByEmail returns the account of an email, whatever its case.
func (db *DB) AccountByEmail(ctx context.Context, email string) (_ facematch.Account, err error) {
	defer wrapOp(&err, "sqlite.AccountByEmail")
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email = ?`, strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("account")
	}
	return a, err
}

// LoginLockedUntil returns the end of the email's lock when it is still locked at now.
func (db *DB) LoginLockedUntil(ctx context.Context, email string, now time.Time) (_ *time.Time, err error) {
	defer wrapOp(&err, "sqlite.LoginLockedUntil")
	var until int64
	err = db.read.QueryRowContext(ctx, `SELECT until_us FROM login_locks WHERE email = ? AND until_us > ?`, strings.ToLower(email), micros(now)).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := fromMicros(until)
	return &t, nil
}

// LoginFailed records a failed login of an email and locks it when it is the max-th within
// window.
func (db *DB) LoginFailed(ctx context.Context, email string, now time.Time, max int, window, lockFor time.Duration) (_ *time.Time, err error) {
	defer wrapOp(&err, "sqlite.LoginFailed")
	email = strings.ToLower(email)
	var locked *time.Time
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE email = ? AND at_us <= ?`, email, micros(now.Add(-window))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (email, at_us) VALUES (?, ?)`, email, micros(now)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n < max {
			return nil
		}
		until := now.Add(lockFor)
		locked = &until
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE email = ?`, email); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO login_locks (email, until_us) VALUES (?, ?) ON CONFLICT (email) DO UPDATE SET until_us = excluded.until_us`, email, micros(until))
		return err
	})
	return locked, err
}

// LoginSucceeded forgets an email's failed logins.
func (db *DB) LoginSucceeded(ctx context.Context, email string) (err error) {
	defer wrapOp(&err, "sqlite.LoginSucceeded")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE email = ?`, strings.ToLower(email))
		return err
	})
}

// CreateLogin stores a console session, and drops expired ones.
func (db *DB) CreateLogin(ctx context.Context, l facematch.Login) (err error) {
	defer wrapOp(&err, "sqlite.CreateLogin")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_logins WHERE expires_us <= ?`, micros(l.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_logins (token_hash, account_id, csrf, created_us, expires_us) VALUES (?, ?, ?, ?, ?)`,
			l.TokenHash, l.AccountID, l.CSRF, micros(l.CreatedAt), micros(l.ExpiresAt))
		return err
	})
}

// LoginByToken returns an unexpired console session and its account.
func (db *DB) LoginByToken(ctx context.Context, tokenHash []byte, now time.Time) (_ facematch.Login, _ facematch.Account, err error) {
	defer wrapOp(&err, "sqlite.LoginByToken")
	var (
		l                facematch.Login
		created, expires int64
	)
	row := db.read.QueryRowContext(ctx, `SELECT l.token_hash, l.account_id, l.csrf, l.created_us, l.expires_us, a.id, a.org_id, a.email, a.admin, a.password_hash, a.created_us
		FROM console_logins l JOIN accounts a ON a.id = l.account_id WHERE l.token_hash = ? AND l.expires_us > ?`, tokenHash, micros(now))
	var (
		a          facematch.Account
		accCreated int64
	)
	err = row.Scan(&l.TokenHash, &l.AccountID, &l.CSRF, &created, &expires, &a.ID, &a.OrgID, &a.Email, &a.Admin, &a.PasswordHash, &accCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return l, a, notFound("login")
	}
	l.CreatedAt, l.ExpiresAt, a.CreatedAt = fromMicros(created), fromMicros(expires), fromMicros(accCreated)
	return l, a, err
}

// DeleteLogin ends a console session.
func (db *DB) DeleteLogin(ctx context.Context, tokenHash []byte) (err error) {
	defer wrapOp(&err, "sqlite.DeleteLogin")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_logins WHERE token_hash = ?`, tokenHash)
		return err
	})
}
