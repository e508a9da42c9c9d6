package postgres

import (
	"context"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// reclaimLock is the advisory lock key ReclaimLapsed holds ("fmreclai").
const reclaimLock int64 = 0x666d7265636c6169

// RenewLease takes or extends this handle's lease until ttl from now (FM-SCALE-3).
func (db *DB) RenewLease(ctx context.Context, ttl time.Duration) (err error) {
	defer wrapOp(&err, "postgres.RenewLease")
	now := db.Now()
	_, err = db.pool.Exec(ctx, `
		INSERT INTO replica_leases (owner, expires_us, started_us, host, pid) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (owner) DO UPDATE SET expires_us = EXCLUDED.expires_us`,
		db.owner, micros(now.Add(ttl)), micros(now), host(), os.Getpid())
	return err
}

// ReclaimLapsed gives back what owners without a live lease held: their reserved credits go
// back to their organizations and their claimed deliveries are free to claim again; their
// leases are forgotten. Work of live owners is never touched, so a starting replica disturbs
// no one. Everything runs in one transaction: the reservations deleted are the credits given
// back.
func (db *DB) ReclaimLapsed(ctx context.Context) (credits, deliveries int, err error) {
	now := micros(db.Now())
	err = db.tx(ctx, func(tx pgx.Tx) error {
		// One reclaimer at a time: two would only wait on each other's rows.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, reclaimLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM replica_leases WHERE expires_us <= $1`, now); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `
			WITH r AS (DELETE FROM credit_reservations c
			           WHERE NOT EXISTS (SELECT 1 FROM replica_leases l WHERE l.owner = c.owner)
			           RETURNING org_id),
			     n AS (SELECT org_id, COUNT(*) AS n FROM r GROUP BY org_id),
			     u AS (UPDATE organizations o SET credits = o.credits + n.n FROM n WHERE o.id = n.org_id RETURNING n.n)
			SELECT COALESCE(SUM(n), 0)::int FROM u`).Scan(&credits); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE webhook_deliveries d SET lease_until_us = 0, lease_owner = ''
			WHERE d.state = 'pending' AND d.lease_until_us > $1 AND d.lease_owner <> ''
			  AND NOT EXISTS (SELECT 1 FROM replica_leases l WHERE l.owner = d.lease_owner)`, now)
		deliveries = int(tag.RowsAffected())
		return err
	})
	return credits, deliveries, err
}

// EndLease drops this handle's lease. What it still held (nothing, after a clean stop) is
// given back by the next ReclaimLapsed of any server.
func (db *DB) EndLease(ctx context.Context) (err error) {
	defer wrapOp(&err, "postgres.EndLease")
	_, err = db.pool.Exec(ctx, `DELETE FROM replica_leases WHERE owner = $1`, db.owner)
	return err
}
