package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/facematch/facematch"
)

// SessionByID returns a session whatever its application.
func (db *DB) SessionByID(ctx context.Context, id string) (_ facematch.Session, err error) {
	defer wrapOp(&err, "sqlite.SessionByID")
	s, err := scanSession(db.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("session")
	}
	return s, err
}

// SessionDeliveries lists a session's webhook deliveries, oldest first, with their attempts.
func (db *DB) SessionDeliveries(ctx context.Context, sessionID string) (_ []facematch.DeliveryLog, err error) {
	defer wrapOp(&err, "sqlite.SessionDeliveries")
	return db.deliveryLogs(ctx, `WHERE d.session_id = ? ORDER BY d.created_us, d.id`, sessionID)
}

// DestinationDeliveries lists a destination's latest deliveries, newest first, with their
// attempts.
func (db *DB) DestinationDeliveries(ctx context.Context, destinationID string, limit int) (_ []facematch.DeliveryLog, err error) {
	defer wrapOp(&err, "sqlite.DestinationDeliveries")
	return db.deliveryLogs(ctx, `WHERE d.destination_id = ? ORDER BY d.created_us DESC, d.id LIMIT ?`, destinationID, limit)
}

// deliveryLogs reads the deliveries a clause selects, then their attempts in one query.
func (db *DB) deliveryLogs(ctx context.Context, clause string, args ...any) ([]facematch.DeliveryLog, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.destination_id, w.label, d.session_id, d.event, d.state, d.created_us
		FROM webhook_deliveries d JOIN webhook_destinations w ON w.id = d.destination_id `+clause, args...)
	if err != nil {
		return nil, err
	}
	out := []facematch.DeliveryLog{}
	index := map[string]int{}
	for rows.Next() {
		var (
			d       facematch.DeliveryLog
			created int64
		)
		if err := rows.Scan(&d.ID, &d.DestinationID, &d.Destination, &d.SessionID, &d.Event, &d.State, &created); err != nil {
			rows.Close()
			return nil, err
		}
		d.CreatedAt = fromMicros(created)
		d.Attempts = []facematch.Attempt{}
		index[d.ID] = len(out)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]any, 0, len(out))
	marks := ""
	for _, d := range out {
		ids = append(ids, d.ID)
		if marks != "" {
			marks += ", "
		}
		marks += "?"
	}
	rows, err = db.read.QueryContext(ctx, `SELECT delivery_id, at_us, status_code, latency_us, error, ok FROM webhook_attempts WHERE delivery_id IN (`+marks+`) ORDER BY at_us, id`, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      string
			a       facematch.Attempt
			at, lat int64
		)
		if err := rows.Scan(&id, &at, &a.StatusCode, &lat, &a.Err, &a.OK); err != nil {
			return nil, err
		}
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		i := index[id]
		out[i].Attempts = append(out[i].Attempts, a)
	}
	return out, rows.Err()
}

// EnqueueDelivery queues one event for one destination, due now.
func (db *DB) EnqueueDelivery(ctx context.Context, destinationID, event string, body []byte) (_ string, err error) {
	defer wrapOp(&err, "sqlite.EnqueueDelivery")
	id := newID()
	now := micros(db.Now())
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, destination_id, session_id, event, body, state, next_attempt_us, created_us) VALUES (?, ?, '', ?, ?, 'pending', ?, ?)`,
			id, destinationID, event, body, now, now)
		return err
	})
	return id, err
}

// DailyCounts returns an organization's saved calls per UTC day from from on, by outcome (no
// face when there was no score, otherwise the status), from the counts kept per day.
func (db *DB) DailyCounts(ctx context.Context, orgID string, from time.Time) (_ []facematch.DayCount, err error) {
	defer wrapOp(&err, "sqlite.DailyCounts")
	const day = int64(24 * time.Hour / time.Microsecond)
	rows, err := db.read.QueryContext(ctx, `SELECT day, approved, declined, noface FROM session_days
		WHERE org_id = ? AND day >= ? AND approved + declined + noface > 0 ORDER BY day`, orgID, micros(from)/day)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.DayCount{}
	for rows.Next() {
		var (
			d facematch.DayCount
			n int64
		)
		if err := rows.Scan(&n, &d.Approved, &d.Declined, &d.NoFace); err != nil {
			return nil, err
		}
		d.Day = fromMicros(n * day)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RecordAudit appends an entry to the audit log.
func (db *DB) RecordAudit(ctx context.Context, e facematch.AuditEntry) (err error) {
	defer wrapOp(&err, "sqlite.RecordAudit")
	if e.At.IsZero() {
		e.At = db.Now()
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at_us, actor, org_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`,
			micros(e.At), e.Actor, e.OrgID, e.Action, e.Target, e.Detail)
		return err
	})
}

// AuditLog lists the latest entries, newest first, of one organization or of all.
func (db *DB) AuditLog(ctx context.Context, orgID string, limit int) (_ []facematch.AuditEntry, err error) {
	defer wrapOp(&err, "sqlite.AuditLog")
	q, args := `SELECT id, at_us, actor, org_id, action, target, detail FROM audit_log ORDER BY at_us DESC, id DESC LIMIT ?`, []any{limit}
	if orgID != "" {
		q, args = `SELECT id, at_us, actor, org_id, action, target, detail FROM audit_log WHERE org_id = ? ORDER BY at_us DESC, id DESC LIMIT ?`, []any{orgID, limit}
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.AuditEntry{}
	for rows.Next() {
		var (
			e  facematch.AuditEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.OrgID, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// The SQLite store is the console's store.
var _ facematch.Console = (*DB)(nil)
