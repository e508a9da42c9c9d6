package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/facematch/facematch"
)

// ReserveCredit takes one credit from the organization into a reservation. The conditional
// decrement is atomic, so no interleaving of calls can overdraw the balance (FM-BILL-2).
func (db *DB) ReserveCredit(ctx context.Context, orgID, requestID string) (_ facematch.Reservation, err error) {
	defer wrapOp(&err, "sqlite.ReserveCredit")
	r := facematch.Reservation{ID: newID(), OrgID: orgID}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE organizations SET credits = credits - 1 WHERE id = ? AND credits > 0`, orgID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return facematch.Errorf(facematch.ENOCREDITS, "You do not have enough credits to perform this action.")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO credit_reservations (id, org_id, request_id, owner, created_us) VALUES (?, ?, ?, ?, ?)`,
			r.ID, orgID, requestID, db.owner, micros(db.Now()))
		return err
	})
	return r, err
}

// consume turns a reservation into a ledger entry inside tx.
func (db *DB) consume(ctx context.Context, tx *sql.Tx, r facematch.Reservation) error {
	var requestID string
	err := tx.QueryRowContext(ctx, `DELETE FROM credit_reservations WHERE id = ? RETURNING request_id`, r.ID).Scan(&requestID)
	if err == sql.ErrNoRows {
		return facematch.Errorf(facematch.EINTERNAL, "credit reservation %s is gone", r.ID)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO credit_ledger (org_id, amount, reason, request_id, created_us) VALUES (?, -1, 'consume', ?, ?)`,
		r.OrgID, requestID, micros(db.Now()))
	return err
}

// ConsumeCredit makes a reservation final.
func (db *DB) ConsumeCredit(ctx context.Context, r facematch.Reservation) (err error) {
	defer wrapOp(&err, "sqlite.ConsumeCredit")
	return db.tx(ctx, func(tx *sql.Tx) error { return db.consume(ctx, tx, r) })
}

// ReleaseCredit returns a reserved credit to its organization; a reservation already gone is
// left alone, so releasing twice gives back one credit.
func (db *DB) ReleaseCredit(ctx context.Context, r facematch.Reservation) (err error) {
	defer wrapOp(&err, "sqlite.ReleaseCredit")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM credit_reservations WHERE id = ?`, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE organizations SET credits = credits + 1 WHERE id = ?`, r.OrgID)
		return err
	})
}

// ReleaseReservationsBefore gives back every credit reserved before t: those of calls that a
// crash interrupted. A server on a SQLite file is the only one using it, so on start every
// reservation older than the start is an orphan. It returns how many were released.
func (db *DB) ReleaseReservationsBefore(ctx context.Context, t time.Time) (_ int, err error) {
	defer wrapOp(&err, "sqlite.ReleaseReservationsBefore")
	var n int
	err = db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM credit_reservations WHERE created_us < ? RETURNING org_id`, micros(t))
		if err != nil {
			return err
		}
		var orgs []string
		for rows.Next() {
			var org string
			if err := rows.Scan(&org); err != nil {
				rows.Close()
				return err
			}
			orgs = append(orgs, org)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, org := range orgs {
			if _, err := tx.ExecContext(ctx, `UPDATE organizations SET credits = credits + 1 WHERE id = ?`, org); err != nil {
				return err
			}
		}
		n = len(orgs)
		return nil
	})
	return n, err
}
