package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
)

// ListOrganizations lists every organization with its balance, oldest first.
func (db *DB) ListOrganizations(ctx context.Context) (_ []facematch.Organization, err error) {
	defer wrapOp(&err, "postgres.ListOrganizations")
	rows, err := db.pool.Query(ctx, `SELECT id, name, credits, created_us FROM organizations ORDER BY created_us, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.Organization{}
	for rows.Next() {
		var (
			o       facematch.Organization
			created int64
		)
		if err := rows.Scan(&o.ID, &o.Name, &o.Credits, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromMicros(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// ListApplications lists an organization's applications, oldest first; ENOTFOUND when there is
// no such organization.
func (db *DB) ListApplications(ctx context.Context, orgID string) (_ []facematch.Application, err error) {
	defer wrapOp(&err, "postgres.ListApplications")
	if _, err := db.Organization(ctx, orgID); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT id, org_id, name, mode, created_us FROM applications WHERE org_id = $1 ORDER BY created_us, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.Application{}
	for rows.Next() {
		var (
			a       facematch.Application
			mode    string
			created int64
		)
		if err := rows.Scan(&a.ID, &a.OrgID, &a.Name, &mode, &created); err != nil {
			return nil, err
		}
		a.Mode, a.CreatedAt = facematch.Mode(mode), fromMicros(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListAPIKeys lists an application's keys, oldest first, with when each last had a request
// counted (kept by a trigger on rate_events); ENOTFOUND when there is no such application.
func (db *DB) ListAPIKeys(ctx context.Context, appID string) (_ []facematch.KeyInfo, err error) {
	defer wrapOp(&err, "postgres.ListAPIKeys")
	app, err := db.Application(ctx, appID)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT id, created_us, last_used_us, revoked_us FROM api_keys WHERE app_id = $1 ORDER BY created_us, id`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []facematch.KeyInfo{}
	for rows.Next() {
		var (
			k             = facematch.KeyInfo{AppID: appID}
			created       int64
			used, revoked *int64
		)
		if err := rows.Scan(&k.ID, &created, &used, &revoked); err != nil {
			return nil, err
		}
		k.Prefix, k.CreatedAt, k.LastUsed, k.RevokedAt = facematch.KeyPrefix(app.Mode, k.ID), fromMicros(created), optTime(used), optTime(revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

func optTime(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := fromMicros(*us)
	return &t
}

// SessionByID returns a session whatever its application.
func (db *DB) SessionByID(ctx context.Context, id string) (_ facematch.Session, err error) {
	defer wrapOp(&err, "postgres.SessionByID")
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, notFound("session")
	}
	return s, err
}

// SessionDeliveries lists a session's webhook deliveries, oldest first, with their attempts.
func (db *DB) SessionDeliveries(ctx context.Context, sessionID string) (_ []facematch.DeliveryLog, err error) {
	defer wrapOp(&err, "postgres.SessionDeliveries")
	return db.deliveryLogs(ctx, `WHERE d.session_id = $1 ORDER BY d.created_us, d.id`, sessionID)
}

// DestinationDeliveries lists a destination's latest deliveries, newest first, with their
// attempts.
func (db *DB) DestinationDeliveries(ctx context.Context, destinationID string, limit int) (_ []facematch.DeliveryLog, err error) {
	defer wrapOp(&err, "postgres.DestinationDeliveries")
	return db.deliveryLogs(ctx, `WHERE d.destination_id = $1 ORDER BY d.created_us DESC, d.id LIMIT $2`, destinationID, limit)
}

// deliveryLogs reads the deliveries a clause selects, then their attempts in one query.
func (db *DB) deliveryLogs(ctx context.Context, clause string, args ...any) ([]facematch.DeliveryLog, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.destination_id, w.label, d.session_id, d.event, d.state, d.created_us
		FROM webhook_deliveries d JOIN webhook_destinations w ON w.id = d.destination_id `+clause, args...)
	if err != nil {
		return nil, err
	}
	out := []facematch.DeliveryLog{}
	index := map[string]int{}
	var ids []string
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
		ids = append(ids, d.ID)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	rows, err = db.pool.Query(ctx, `SELECT delivery_id, at_us, status_code, latency_us, error, ok FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY at_us, id`, ids)
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
	defer wrapOp(&err, "postgres.EnqueueDelivery")
	id := newID()
	now := micros(db.Now())
	_, err = db.pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, destination_id, session_id, event, body, state, next_attempt_us, created_us) VALUES ($1, $2, '', $3, $4, 'pending', $5, $5)`,
		id, destinationID, event, body, now)
	return id, err
}

// DailyCounts counts an organization's saved calls per UTC day from from on, by outcome: no
// face when there was no score, otherwise the status.
func (db *DB) DailyCounts(ctx context.Context, orgID string, from time.Time) (_ []facematch.DayCount, err error) {
	defer wrapOp(&err, "postgres.DailyCounts")
	const day = int64(24 * time.Hour / time.Microsecond)
	rows, err := db.pool.Query(ctx, `
		SELECT created_us / $1 AS day,
		       COUNT(*) FILTER (WHERE score IS NOT NULL AND status = 'Approved'),
		       COUNT(*) FILTER (WHERE score IS NOT NULL AND status = 'Declined'),
		       COUNT(*) FILTER (WHERE score IS NULL)
		FROM sessions WHERE app_id IN (SELECT id FROM applications WHERE org_id = $2) AND created_us >= $3
		GROUP BY day ORDER BY day`, day, orgID, micros(from))
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
	defer wrapOp(&err, "postgres.RecordAudit")
	if e.At.IsZero() {
		e.At = db.Now()
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO audit_log (at_us, actor, org_id, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		micros(e.At), e.Actor, e.OrgID, e.Action, e.Target, e.Detail)
	return err
}

// AuditLog lists the latest entries, newest first, of one organization or, with orgID empty,
// of all.
func (db *DB) AuditLog(ctx context.Context, orgID string, limit int) (_ []facematch.AuditEntry, err error) {
	defer wrapOp(&err, "postgres.AuditLog")
	rows, err := db.pool.Query(ctx, `SELECT id, at_us, actor, org_id, action, target, detail FROM audit_log
		WHERE $1 = '' OR org_id = $1 ORDER BY at_us DESC, id DESC LIMIT $2`, orgID, limit)
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

// The PostgreSQL store is the console's store.
var _ facematch.Console = (*DB)(nil)
