package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/facematch/facematch"
)

var _ facematch.Admin = (*DB)(nil)

// ListOrganizations returns every organization with its balance, oldest first.
func (db *DB) ListOrganizations(ctx context.Context) ([]facematch.Organization, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, credits, created_us FROM organizations ORDER BY created_us, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []facematch.Organization
	for rows.Next() {
		var o facematch.Organization
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &o.Credits, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromMicros(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// ListApplications returns an organization's applications, oldest first.
func (db *DB) ListApplications(ctx context.Context, orgID string) ([]facematch.Application, error) {
	if _, err := organization(ctx, db.read, orgID); err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, org_id, name, mode, created_us FROM applications WHERE org_id = ? ORDER BY created_us, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []facematch.Application
	for rows.Next() {
		var a facematch.Application
		var mode string
		var created int64
		if err := rows.Scan(&a.ID, &a.OrgID, &a.Name, &mode, &created); err != nil {
			return nil, err
		}
		a.Mode, a.CreatedAt = facematch.Mode(mode), fromMicros(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListAPIKeys returns an application's keys, oldest first. A key's last use is its latest request
// counted by the rate limit: TakeRequest keeps each key's latest event until the key's next
// request, so it costs the requests no write of their own.
func (db *DB) ListAPIKeys(ctx context.Context, appID string) ([]facematch.KeyInfo, error) {
	app, err := db.Application(ctx, appID)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `
		SELECT k.id, k.created_us, k.revoked_us, (SELECT MAX(e.at_us) FROM rate_events e WHERE e.key_id = k.id)
		FROM api_keys k WHERE k.app_id = ? ORDER BY k.created_us, k.id`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []facematch.KeyInfo
	for rows.Next() {
		var (
			k                 = facematch.KeyInfo{AppID: appID}
			created           int64
			revoked, lastUsed sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &created, &revoked, &lastUsed); err != nil {
			return nil, err
		}
		k.Prefix, k.CreatedAt = facematch.KeyPrefix(app.Mode, k.ID), fromMicros(created)
		k.RevokedAt, k.LastUsed = optionalTime(revoked), optionalTime(lastUsed)
		out = append(out, k)
	}
	return out, rows.Err()
}

func optionalTime(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := fromMicros(us.Int64)
	return &t
}

// ListSessions returns an application's saved sessions, newest first: by their number, which
// grows with every session of the application.
func (db *DB) ListSessions(ctx context.Context, f facematch.SessionFilter) ([]facematch.Session, error) {
	if _, err := db.Application(ctx, f.AppID); err != nil {
		return nil, err
	}
	query := `SELECT id, app_id, number, vendor_data, metadata, face_match, created_us FROM sessions WHERE app_id = ?`
	args := []any{f.AppID}
	if f.VendorData != nil {
		query += ` AND vendor_data = ?`
		args = append(args, *f.VendorData)
	}
	query += ` ORDER BY number DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []facematch.Session
	for rows.Next() {
		var (
			s                facematch.Session
			vendor, metadata sql.NullString
			fm               string
			created          int64
		)
		if err := rows.Scan(&s.ID, &s.AppID, &s.Number, &vendor, &metadata, &fm, &created); err != nil {
			return nil, err
		}
		if vendor.Valid {
			s.VendorData = &vendor.String
		}
		if metadata.Valid {
			s.Metadata = json.RawMessage(metadata.String)
		}
		s.CreatedAt = fromMicros(created)
		if err := json.Unmarshal([]byte(fm), &s.FaceMatch); err != nil {
			return nil, fmt.Errorf("session %s: %w", s.ID, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// purgeBatch is how many sessions one transaction of PurgeSessions deletes: each holds the write
// lock for milliseconds, so a server sharing the file goes on answering.
const purgeBatch = 200

// PurgeSessions deletes the sessions created before t, with their images (ON DELETE CASCADE),
// of one application or of all. The bodies of their finished webhook deliveries (which repeat
// the decision, vendor_data and metadata) are emptied too; the attempts stay, for the
// destinations' delivery summaries. A delivery still pending keeps its body until it is sent.
func (db *DB) PurgeSessions(ctx context.Context, before time.Time, appID string) (int64, error) {
	if appID != "" {
		if _, err := db.Application(ctx, appID); err != nil {
			return 0, err
		}
	}
	const batch = `SELECT id FROM sessions WHERE created_us < ?1 AND (?2 = '' OR app_id = ?2) ORDER BY created_us, id LIMIT ?3`
	var total int64
	for {
		var n int64
		err := db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET body = x'' WHERE state != 'pending' AND session_id IN (`+batch+`)`,
				micros(before), appID, purgeBatch); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (`+batch+`)`, micros(before), appID, purgeBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// Backup writes a consistent copy of the database to path with VACUUM INTO: a read transaction,
// so the server goes on reading and writing meanwhile, and the copy is compact and
// self-contained (no WAL beside it). path must not exist yet; the copy is readable by its owner
// only, since it holds webhook secrets and stored face images.
func (db *DB) Backup(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists already: a backup never overwrites a file", path)
	}
	if err != nil {
		return err
	}
	f.Close()
	// VACUUM INTO writes into an empty file.
	if _, err := db.read.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
