package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
)

const destinationColumns = `id, app_id, label, url, subscribed_events, enabled, secret, created_us, updated_us, webhook_version`

func scanDestination(row pgx.Row) (facematch.Destination, error) {
	var (
		d                facematch.Destination
		created, updated int64
	)
	if err := row.Scan(&d.ID, &d.AppID, &d.Label, &d.URL, &d.SubscribedEvents, &d.Enabled, &d.Secret, &created, &updated, &d.WebhookVersion); err != nil {
		return d, err
	}
	if d.SubscribedEvents == nil {
		d.SubscribedEvents = []string{}
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, nil
}

// events is the stored form of a list of events: never NULL.
func events(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// CreateDestination stores a new destination of an application.
func (db *DB) CreateDestination(ctx context.Context, d facematch.Destination) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "postgres.CreateDestination")
	d.ID = newID()
	d.CreatedAt = db.Now().UTC()
	d.UpdatedAt = d.CreatedAt
	if d.WebhookVersion == "" {
		d.WebhookVersion = facematch.DefaultWebhookVersion
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO webhook_destinations (`+destinationColumns+`)
		SELECT $1, id, $3, $4, $5, $6, $7, $8, $9, $10 FROM applications WHERE id = $2`,
		d.ID, d.AppID, d.Label, d.URL, events(d.SubscribedEvents), d.Enabled, d.Secret, micros(d.CreatedAt), micros(d.UpdatedAt), d.WebhookVersion)
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("application " + d.AppID)
	}
	return d, err
}

// Destinations lists an application's destinations, oldest first.
func (db *DB) Destinations(ctx context.Context, appID string) (_ []facematch.Destination, err error) {
	defer wrapOp(&err, "postgres.Destinations")
	rows, err := db.pool.Query(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations WHERE app_id = $1 ORDER BY created_us, id`, appID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (facematch.Destination, error) { return scanDestination(r) })
	if out == nil {
		out = []facematch.Destination{}
	}
	return out, err
}

func destination(ctx context.Context, q queryer, appID, id string, lock bool) (facematch.Destination, error) {
	query := `SELECT ` + destinationColumns + ` FROM webhook_destinations WHERE id = $1 AND app_id = $2`
	if lock {
		query += ` FOR UPDATE`
	}
	d, err := scanDestination(q.QueryRow(ctx, query, id, appID))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, notFound("destination")
	}
	return d, err
}

// Destination returns one destination of an application.
func (db *DB) Destination(ctx context.Context, appID, id string) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "postgres.Destination")
	return destination(ctx, db.pool, appID, id, false)
}

// UpdateDestination applies the fields of u that are set; the row is locked meanwhile, so
// concurrent updates from several replicas each apply whole.
func (db *DB) UpdateDestination(ctx context.Context, appID, id string, u facematch.DestinationUpdate) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "postgres.UpdateDestination")
	var d facematch.Destination
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = destination(ctx, tx, appID, id, true); err != nil {
			return err
		}
		if u.Label != nil {
			d.Label = *u.Label
		}
		if u.URL != nil {
			d.URL = *u.URL
		}
		if u.SubscribedEvents != nil {
			d.SubscribedEvents = u.SubscribedEvents
		}
		if u.Enabled != nil {
			d.Enabled = *u.Enabled
		}
		if u.Secret != nil {
			d.Secret = *u.Secret
		}
		if u.WebhookVersion != nil {
			d.WebhookVersion = *u.WebhookVersion
		}
		d.UpdatedAt = db.Now().UTC()
		_, err = tx.Exec(ctx, `UPDATE webhook_destinations SET label = $1, url = $2, subscribed_events = $3, enabled = $4, secret = $5, updated_us = $6, webhook_version = $7 WHERE id = $8`,
			d.Label, d.URL, events(d.SubscribedEvents), d.Enabled, d.Secret, micros(d.UpdatedAt), d.WebhookVersion, d.ID)
		return err
	})
	return d, err
}

// DeleteDestination removes a destination with its queue and history.
func (db *DB) DeleteDestination(ctx context.Context, appID, id string) (err error) {
	defer wrapOp(&err, "postgres.DeleteDestination")
	tag, err := db.pool.Exec(ctx, `DELETE FROM webhook_destinations WHERE id = $1 AND app_id = $2`, id, appID)
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("destination")
	}
	return err
}

// DeliverySummary sums up the attempts made to a destination; response times count only the
// attempts that got an HTTP answer.
func (db *DB) DeliverySummary(ctx context.Context, destinationID string) (_ facematch.DeliverySummary, err error) {
	defer wrapOp(&err, "postgres.DeliverySummary")
	var (
		s                facematch.DeliverySummary
		minL, maxL, last *int64
		avgL             *float64
	)
	err = db.pool.QueryRow(ctx, `
		SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT ok),
		       MIN(latency_us) FILTER (WHERE status_code > 0), AVG(latency_us) FILTER (WHERE status_code > 0)::float8,
		       MAX(latency_us) FILTER (WHERE status_code > 0), MAX(at_us)
		FROM webhook_attempts WHERE destination_id = $1`, destinationID).
		Scan(&s.Total, &s.Failed, &minL, &avgL, &maxL, &last)
	if err != nil {
		return s, err
	}
	if minL != nil {
		mn, mx, av := time.Duration(*minL)*time.Microsecond, time.Duration(*maxL)*time.Microsecond, time.Duration(*avgL*float64(time.Microsecond))
		s.MinResponse, s.MaxResponse, s.AvgResponse = &mn, &mx, &av
	}
	if last != nil {
		t := fromMicros(*last)
		s.LastDeliveryAt = &t
	}
	return s, nil
}

// ClaimDeliveries leases due deliveries of enabled destinations under this handle's owner, in
// one statement. Rows another replica is claiming at the same moment are skipped, not waited
// for (FOR UPDATE SKIP LOCKED), so replicas drain the outbox side by side and each delivery
// is attempted by one of them at a time (FM-SCALE-2).
func (db *DB) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) (_ []facematch.Delivery, err error) {
	defer wrapOp(&err, "postgres.ClaimDeliveries")
	now := micros(db.Now())
	rows, err := db.pool.Query(ctx, `
		UPDATE webhook_deliveries d SET lease_until_us = $2, lease_owner = $3
		FROM (SELECT d.id FROM webhook_deliveries d JOIN webhook_destinations w ON w.id = d.destination_id
		      WHERE d.state = 'pending' AND d.next_attempt_us <= $1 AND d.lease_until_us <= $1 AND w.enabled
		      ORDER BY d.next_attempt_us LIMIT $4 FOR UPDATE OF d SKIP LOCKED) c,
		     webhook_destinations w
		WHERE d.id = c.id AND w.id = d.destination_id
		RETURNING d.id, d.destination_id, d.session_id, d.event, d.body, d.attempts, w.url, w.secret`,
		now, now+lease.Microseconds(), db.owner, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (facematch.Delivery, error) {
		var d facematch.Delivery
		err := r.Scan(&d.ID, &d.DestinationID, &d.SessionID, &d.Event, &d.Body, &d.Attempts, &d.URL, &d.Secret)
		return d, err
	})
}

// FinishAttempt records an attempt and moves the delivery on: delivered, retried at retryAt,
// or failed for good. One round trip: both statements go as one batch in a transaction.
func (db *DB) FinishAttempt(ctx context.Context, d facematch.Delivery, a facematch.Attempt, retryAt *time.Time) (err error) {
	defer wrapOp(&err, "postgres.FinishAttempt")
	state, next := "failed", int64(0)
	switch {
	case a.OK:
		state = "delivered"
	case retryAt != nil:
		state, next = "pending", micros(*retryAt)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO webhook_attempts (delivery_id, destination_id, at_us, status_code, latency_us, error, ok) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			d.ID, d.DestinationID, micros(a.At), a.StatusCode, a.Latency.Microseconds(), a.Err, a.OK)
		b.Queue(`UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1,
			next_attempt_us = CASE WHEN $2::bigint > 0 THEN $2::bigint ELSE next_attempt_us END, lease_until_us = 0, lease_owner = '' WHERE id = $3`,
			state, next, d.ID)
		return tx.SendBatch(ctx, b).Close()
	})
}

// queueDeliveries adds to b the statement that queues one delivery of body to each enabled
// destination of the application subscribed to event, for the caller's transaction.
func queueDeliveries(b *pgx.Batch, appID, sessionID, event string, body []byte, atUS int64) {
	b.Queue(`INSERT INTO webhook_deliveries (id, destination_id, session_id, event, body, state, next_attempt_us, created_us)
		SELECT gen_random_uuid()::text, w.id, $2, $3, $4, 'pending', $5, $5 FROM webhook_destinations w
		WHERE w.app_id = $1 AND w.enabled AND $3 = ANY (w.subscribed_events)`,
		appID, sessionID, event, body, atUS)
}
