package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/facematch/facematch"
)

// CreateSession writes the session, both images, its webhook deliveries and the consumption
// of its credit in one transaction: either all of it is there after a crash, or none
// (FM-SES-1, FM-WH-4). Everything after the session's number is sent as one batch.
func (db *DB) CreateSession(ctx context.Context, ns facematch.NewSession) (_ facematch.Session, err error) {
	defer wrapOp(&err, "postgres.CreateSession")
	s := ns.Session
	fm, err := json.Marshal(s.FaceMatch)
	if err != nil {
		return s, err
	}
	var metadata *string
	if s.Metadata != nil {
		m := string(s.Metadata)
		metadata = &m
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE applications SET session_seq = session_seq + 1 WHERE id = $1 RETURNING session_seq`, s.AppID).
			Scan(&s.Number); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("application " + s.AppID)
			}
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO sessions (id, app_id, number, vendor_data, metadata, face_match, created_us, threshold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			s.ID, s.AppID, s.Number, s.VendorData, metadata, string(fm), micros(s.CreatedAt), s.Threshold)
		b.Queue(`INSERT INTO session_images (session_id, kind, content_type, data) VALUES ($1, $2, $3, $4), ($1, $5, $6, $7)`,
			s.ID, facematch.ImageSource, ns.Source.ContentType, ns.Source.Data, facematch.ImageTarget, ns.Target.ContentType, ns.Target.Data)
		if ns.WebhookBody != nil {
			body, err := ns.WebhookBody(s)
			if err != nil {
				return err
			}
			queueDeliveries(b, s.AppID, s.ID, facematch.EventStatusUpdated, body, micros(s.CreatedAt))
		}
		consumed := false
		b.Queue(`
			WITH r AS (DELETE FROM credit_reservations WHERE id = $1 RETURNING org_id, request_id)
			INSERT INTO credit_ledger (org_id, amount, reason, request_id, created_us) SELECT org_id, -1, 'consume', request_id, $2 FROM r`,
			ns.Credit.ID, micros(db.Now())).Exec(func(tag pgconn.CommandTag) error {
			consumed = tag.RowsAffected() == 1
			return nil
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !consumed {
			return facematch.Errorf(facematch.EINTERNAL, "credit reservation %s is gone", ns.Credit.ID)
		}
		return nil
	})
	return s, err
}

// Session returns a session of the application.
func (db *DB) Session(ctx context.Context, appID, id string) (_ facematch.Session, err error) {
	defer wrapOp(&err, "postgres.Session")
	var (
		s        facematch.Session
		metadata *string
		fm       string
		created  int64
	)
	err = db.pool.QueryRow(ctx, `SELECT id, app_id, number, vendor_data, metadata, face_match, created_us, threshold FROM sessions WHERE id = $1 AND app_id = $2`, id, appID).
		Scan(&s.ID, &s.AppID, &s.Number, &s.VendorData, &metadata, &fm, &created, &s.Threshold)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, notFound("session")
	}
	if err != nil {
		return s, err
	}
	if metadata != nil {
		s.Metadata = json.RawMessage(*metadata)
	}
	s.CreatedAt = fromMicros(created)
	return s, json.Unmarshal([]byte(fm), &s.FaceMatch)
}

// SessionImage returns one stored image of a session.
func (db *DB) SessionImage(ctx context.Context, sessionID, kind string) (_ facematch.StoredImage, err error) {
	defer wrapOp(&err, "postgres.SessionImage")
	var img facematch.StoredImage
	err = db.pool.QueryRow(ctx, `SELECT content_type, data FROM session_images WHERE session_id = $1 AND kind = $2`, sessionID, kind).
		Scan(&img.ContentType, &img.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return img, notFound("image")
	}
	return img, err
}

// DeleteSession removes a session of the application with its images.
func (db *DB) DeleteSession(ctx context.Context, appID, id string) (err error) {
	defer wrapOp(&err, "postgres.DeleteSession")
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND app_id = $2`, id, appID)
	if err == nil && tag.RowsAffected() == 0 {
		err = notFound("session")
	}
	return err
}
