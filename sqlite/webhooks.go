package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/facematch/facematch"
)

const destinationColumns = `id, app_id, label, url, subscribed_events, enabled, secret, created_us, updated_us, webhook_version`

func scanDestination(sc interface{ Scan(...any) error }) (facematch.Destination, error) {
	var (
		d                facematch.Destination
		events           string
		created, updated int64
	)
	if err := sc.Scan(&d.ID, &d.AppID, &d.Label, &d.URL, &events, &d.Enabled, &d.Secret, &created, &updated, &d.WebhookVersion); err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, json.Unmarshal([]byte(events), &d.SubscribedEvents)
}

// CreateDestination stores a new destination of an application.
func (db *DB) CreateDestination(ctx context.Context, d facematch.Destination) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "sqlite.CreateDestination")
	d.ID = newID()
	d.CreatedAt = db.Now().UTC()
	d.UpdatedAt = d.CreatedAt
	if d.WebhookVersion == "" {
		d.WebhookVersion = facematch.DefaultWebhookVersion
	}
	events, err := json.Marshal(d.SubscribedEvents)
	if err != nil {
		return d, err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_destinations (`+destinationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.AppID, d.Label, d.URL, string(events), d.Enabled, d.Secret, micros(d.CreatedAt), micros(d.UpdatedAt), d.WebhookVersion)
		return err
	})
	return d, err
}

// Destinations lists an application's destinations, oldest first.
func (db *DB) Destinations(ctx context.Context, appID string) (_ []facematch.Destination, err error) {
	defer wrapOp(&err, "sqlite.Destinations")
	rows, err := db.read.QueryContext(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations WHERE app_id = ? ORDER BY created_us, id`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.Destination{}
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func destination(ctx context.Context, q queryer, appID, id string) (facematch.Destination, error) {
	d, err := scanDestination(q.QueryRowContext(ctx, `SELECT `+destinationColumns+` FROM webhook_destinations WHERE id = ? AND app_id = ?`, id, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("destination")
	}
	return d, err
}

// Destination returns one destination of an application.
func (db *DB) Destination(ctx context.Context, appID, id string) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "sqlite.Destination")
	return destination(ctx, db.read, appID, id)
}

// UpdateDestination applies the fields of u that are set.
func (db *DB) UpdateDestination(ctx context.Context, appID, id string, u facematch.DestinationUpdate) (_ facematch.Destination, err error) {
	defer wrapOp(&err, "sqlite.UpdateDestination")
	var d facematch.Destination
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = destination(ctx, tx, appID, id); err != nil {
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
		events, err := json.Marshal(d.SubscribedEvents)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_destinations SET label = ?, url = ?, subscribed_events = ?, enabled = ?, secret = ?, updated_us = ?, webhook_version = ? WHERE id = ?`,
			d.Label, d.URL, string(events), d.Enabled, d.Secret, micros(d.UpdatedAt), d.WebhookVersion, d.ID)
		return err
	})
	return d, err
}

// DeleteDestination removes a destination with its queue and history.
func (db *DB) DeleteDestination(ctx context.Context, appID, id string) (err error) {
	defer wrapOp(&err, "sqlite.DeleteDestination")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_destinations WHERE id = ? AND app_id = ?`, id, appID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("destination")
		}
		return nil
	})
}

// DeliverySummary sums up the attempts made to a destination; response times count only the
// attempts that got an HTTP answer.
func (db *DB) DeliverySummary(ctx context.Context, destinationID string) (_ facematch.DeliverySummary, err error) {
	defer wrapOp(&err, "sqlite.DeliverySummary")
	var (
		s          facematch.DeliverySummary
		minL, maxL sql.NullInt64
		avgL       sql.NullFloat64
		last       sql.NullInt64
	)
	err = db.read.QueryRowContext(ctx, `
		SELECT COUNT(*), COALESCE(SUM(ok = 0), 0),
		       MIN(CASE WHEN status_code > 0 THEN latency_us END), AVG(CASE WHEN status_code > 0 THEN latency_us END),
		       MAX(CASE WHEN status_code > 0 THEN latency_us END), MAX(at_us)
		FROM webhook_attempts WHERE destination_id = ?`, destinationID).
		Scan(&s.Total, &s.Failed, &minL, &avgL, &maxL, &last)
	if err != nil {
		return s, err
	}
	if minL.Valid {
		mn, mx, av := time.Duration(minL.Int64)*time.Microsecond, time.Duration(maxL.Int64)*time.Microsecond, time.Duration(avgL.Float64*float64(time.Microsecond))
		s.MinResponse, s.MaxResponse, s.AvgResponse = &mn, &mx, &av
	}
	if last.Valid {
		t := fromMicros(last.Int64)
		s.LastDeliveryAt = &t
	}
	return s, nil
}

// ClaimDeliveries leases due deliveries of enabled destinations. The lease is taken in the same
// write transaction as the selection, so two workers never hold the same delivery.
func (db *DB) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) (_ []facematch.Delivery, err error) {
	defer wrapOp(&err, "sqlite.ClaimDeliveries")
	var out []facematch.Delivery
	err = db.tx(ctx, func(tx *sql.Tx) error {
		now := micros(db.Now())
		rows, err := tx.QueryContext(ctx, `
			SELECT d.id, d.destination_id, d.session_id, d.event, d.body, d.attempts, w.url, w.secret
			FROM webhook_deliveries d JOIN webhook_destinations w ON w.id = d.destination_id
			WHERE d.state = 'pending' AND d.next_attempt_us <= ? AND d.lease_until_us <= ? AND w.enabled = 1
			ORDER BY d.next_attempt_us LIMIT ?`, now, now, limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d facematch.Delivery
			if err := rows.Scan(&d.ID, &d.DestinationID, &d.SessionID, &d.Event, &d.Body, &d.Attempts, &d.URL, &d.Secret); err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until_us = ?, lease_owner = ? WHERE id = ?`, now+lease.Microseconds(), db.owner, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// FinishAttempt records an attempt and moves the delivery on: delivered, retried at retryAt,
// or failed for good.
func (db *DB) FinishAttempt(ctx context.Context, d facematch.Delivery, a facematch.Attempt, retryAt *time.Time) (err error) {
	defer wrapOp(&err, "sqlite.FinishAttempt")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, destination_id, at_us, status_code, latency_us, error, ok) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.DestinationID, micros(a.At), a.StatusCode, a.Latency.Microseconds(), a.Err, a.OK); err != nil {
			return err
		}
		state, next := "failed", int64(0)
		switch {
		case a.OK:
			state = "delivered"
		case retryAt != nil:
			state, next = "pending", micros(*retryAt)
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_us = CASE WHEN ? > 0 THEN ? ELSE next_attempt_us END, lease_until_us = 0, lease_owner = '' WHERE id = ?`,
			state, next, next, d.ID)
		return err
	})
}

// ReleaseDeliveryLeases frees every leased delivery: on start, the leases of a server that
// crashed. A server on a SQLite file is the only one using it, so every lease is an orphan then.
func (db *DB) ReleaseDeliveryLeases(ctx context.Context) (err error) {
	defer wrapOp(&err, "sqlite.ReleaseDeliveryLeases")
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until_us = 0, lease_owner = '' WHERE state = 'pending' AND lease_until_us > 0`)
		return err
	})
}

// enqueueDeliveries queues one delivery of body to each enabled destination of the
// application subscribed to event, inside the caller's transaction.
func (db *DB) enqueueDeliveries(ctx context.Context, tx *sql.Tx, appID, sessionID, event string, body []byte, at time.Time) error {
	rows, err := tx.QueryContext(ctx, `
		SELECT w.id FROM webhook_destinations w
		WHERE w.app_id = ? AND w.enabled = 1 AND EXISTS (SELECT 1 FROM json_each(w.subscribed_events) WHERE value = ?)`, appID, event)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, dest := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, destination_id, session_id, event, body, state, next_attempt_us, created_us) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
			newID(), dest, sessionID, event, body, micros(at), micros(at)); err != nil {
			return err
		}
	}
	return nil
}
