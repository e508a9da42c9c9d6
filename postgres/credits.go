package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
)

// ReserveCredit takes one credit from the organization into a reservation held under this
// handle's lease, in one statement: the conditional decrement locks the organization's row,
// so no interleaving of calls, on any replica, can overdraw the balance (FM-BILL-2).
func (db *DB) ReserveCredit(ctx context.Context, orgID, requestID string) (_ facematch.Reservation, err error) {
	defer wrapOp(&err, "postgres.ReserveCredit")
	r := facematch.Reservation{ID: newID(), OrgID: orgID}
	tag, err := db.pool.Exec(ctx, `
		WITH o AS (UPDATE organizations SET credits = credits - 1 WHERE id = $2 AND credits > 0 RETURNING id)
		INSERT INTO credit_reservations (id, org_id, request_id, owner, created_us) SELECT $1, id, $3, $4, $5 FROM o`,
		r.ID, orgID, requestID, db.owner, micros(db.Now()))
	if err != nil {
		return r, err
	}
	if tag.RowsAffected() == 0 {
		return r, facematch.Errorf(facematch.ENOCREDITS, "You do not have enough credits to perform this action.")
	}
	return r, nil
}

// consume turns a reservation into a ledger entry, in one statement run by q.
func (db *DB) consume(ctx context.Context, q queryer, r facematch.Reservation) error {
	var one int
	err := q.QueryRow(ctx, `
		WITH r AS (DELETE FROM credit_reservations WHERE id = $1 RETURNING org_id, request_id)
		INSERT INTO credit_ledger (org_id, amount, reason, request_id, created_us) SELECT org_id, -1, 'consume', request_id, $2 FROM r
		RETURNING 1`, r.ID, micros(db.Now())).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return facematch.Errorf(facematch.EINTERNAL, "credit reservation %s is gone", r.ID)
	}
	return err
}

// ConsumeCredit makes a reservation final.
func (db *DB) ConsumeCredit(ctx context.Context, r facematch.Reservation) (err error) {
	defer wrapOp(&err, "postgres.ConsumeCredit")
	return db.consume(ctx, db.pool, r)
}

// ReleaseCredit returns a reserved credit to its organization; a reservation already gone is
// left alone, so releasing twice gives back one credit.
func (db *DB) ReleaseCredit(ctx context.Context, r facematch.Reservation) (err error) {
	defer wrapOp(&err, "postgres.ReleaseCredit")
	_, err = db.pool.Exec(ctx, `
		WITH r AS (DELETE FROM credit_reservations WHERE id = $1 RETURNING org_id)
		UPDATE organizations o SET credits = o.credits + 1 FROM r WHERE o.id = r.org_id`, r.ID)
	return err
}
