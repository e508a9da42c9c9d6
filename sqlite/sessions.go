package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/facematch/facematch"
)

// CreateSession writes the session, both images and the consumption of its credit in one
// transaction: either all of it is there after a crash, or none (FM-SES-1).
func (db *DB) CreateSession(ctx context.Context, ns facematch.NewSession) (_ facematch.Session, err error) {
	defer wrapOp(&err, "sqlite.CreateSession")
	s := ns.Session
	fm, err := json.Marshal(s.FaceMatch)
	if err != nil {
		return s, err
	}
	var metadata, vendor any
	if s.Metadata != nil {
		metadata = string(s.Metadata)
	}
	if s.VendorData != nil {
		vendor = *s.VendorData
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE applications SET session_seq = session_seq + 1 WHERE id = ? RETURNING session_seq`, s.AppID).
			Scan(&s.Number); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, app_id, number, vendor_data, metadata, face_match, created_us, threshold) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.AppID, s.Number, vendor, metadata, string(fm), micros(s.CreatedAt), s.Threshold); err != nil {
			return err
		}
		for kind, img := range map[string]facematch.StoredImage{facematch.ImageSource: ns.Source, facematch.ImageTarget: ns.Target} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO session_images (session_id, kind, content_type, data) VALUES (?, ?, ?, ?)`,
				s.ID, kind, img.ContentType, img.Data); err != nil {
				return err
			}
		}
		if ns.WebhookBody != nil {
			body, err := ns.WebhookBody(s)
			if err != nil {
				return err
			}
			if err := db.enqueueDeliveries(ctx, tx, s.AppID, s.ID, facematch.EventStatusUpdated, body, s.CreatedAt); err != nil {
				return err
			}
		}
		return db.consume(ctx, tx, ns.Credit)
	})
	return s, err
}

// Session returns a session of the application.
func (db *DB) Session(ctx context.Context, appID, id string) (_ facematch.Session, err error) {
	defer wrapOp(&err, "sqlite.Session")
	var (
		s        facematch.Session
		vendor   sql.NullString
		metadata sql.NullString
		fm       string
		created  int64
	)
	err = db.read.QueryRowContext(ctx, `SELECT id, app_id, number, vendor_data, metadata, face_match, created_us, threshold FROM sessions WHERE id = ? AND app_id = ?`, id, appID).
		Scan(&s.ID, &s.AppID, &s.Number, &vendor, &metadata, &fm, &created, &s.Threshold)
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("session")
	}
	if err != nil {
		return s, err
	}
	if vendor.Valid {
		s.VendorData = &vendor.String
	}
	if metadata.Valid {
		s.Metadata = json.RawMessage(metadata.String)
	}
	s.CreatedAt = fromMicros(created)
	return s, json.Unmarshal([]byte(fm), &s.FaceMatch)
}

// SessionImage returns one stored image of a session.
func (db *DB) SessionImage(ctx context.Context, sessionID, kind string) (_ facematch.StoredImage, err error) {
	defer wrapOp(&err, "sqlite.SessionImage")
	var img facematch.StoredImage
	err = db.read.QueryRowContext(ctx, `SELECT content_type, data FROM session_images WHERE session_id = ? AND kind = ?`, sessionID, kind).
		Scan(&img.ContentType, &img.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return img, notFound("image")
	}
	return img, err
}

// DeleteSession removes a session of the application with its images.
func (db *DB) DeleteSession(ctx context.Context, appID, id string) (err error) {
	defer wrapOp(&err, "sqlite.DeleteSession")
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND app_id = ?`, id, appID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("session")
		}
		return nil
	})
}
