package sqlite

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// RenewLease takes or extends this handle's lease until ttl from now (FM-SCALE-3).
func (db *DB) RenewLease(ctx context.Context, ttl time.Duration) error {
	now := db.Now()
	host, _ := os.Hostname()
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO replica_leases (owner, expires_us, started_us, host, pid) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (owner) DO UPDATE SET expires_us = excluded.expires_us`,
			db.owner, micros(now.Add(ttl)), micros(now), host, os.Getpid())
		return err
	})
}

// ReclaimLapsed gives back what owners without a live lease held: their reserved credits go
// back to their organizations and their claimed deliveries are free to claim again; their
// leases are forgotten. Work of live owners is never touched.
func (db *DB) ReclaimLapsed(ctx context.Context) (credits, deliveries int, err error) {
	now := micros(db.Now())
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM replica_leases WHERE expires_us <= ?`, now); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			DELETE FROM credit_reservations WHERE owner NOT IN (SELECT owner FROM replica_leases) RETURNING org_id`)
		if err != nil {
			return err
		}
		perOrg := map[string]int{}
		for rows.Next() {
			var org string
			if err := rows.Scan(&org); err != nil {
				rows.Close()
				return err
			}
			perOrg[org]++
			credits++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for org, n := range perOrg {
			if _, err := tx.ExecContext(ctx, `UPDATE organizations SET credits = credits + ? WHERE id = ?`, n, org); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE webhook_deliveries SET lease_until_us = 0, lease_owner = ''
			WHERE state = 'pending' AND lease_until_us > ? AND lease_owner <> ''
			  AND lease_owner NOT IN (SELECT owner FROM replica_leases)`, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		deliveries = int(n)
		return nil
	})
	return credits, deliveries, err
}

// EndLease drops this handle's lease.
func (db *DB) EndLease(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM replica_leases WHERE owner = ?`, db.owner)
		return err
	})
}
