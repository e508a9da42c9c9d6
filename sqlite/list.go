package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/facematch/facematch"
)

// sessionWhere builds the WHERE clause of a filter and its arguments, in plain SQL with ?
// parameters, shared by the page and its count.
func sessionWhere(f facematch.SessionQuery) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.AppID != "" {
		conds = append(conds, "s.app_id = ?")
		args = append(args, f.AppID)
	}
	if f.OrgID != "" {
		conds = append(conds, "s.org_id = ?")
		args = append(args, f.OrgID)
	}
	if f.VendorData != nil {
		conds = append(conds, "s.vendor_data = ?")
		args = append(args, *f.VendorData)
	}
	if f.Search != "" {
		// vendor_search is vendor_data in lower case; both sides are lowered by SQL's lower(),
		// which folds ASCII letters (PostgreSQL: strpos(vendor_search, lower(?)) > 0).
		conds = append(conds, "instr(s.vendor_search, lower(?)) > 0")
		args = append(args, f.Search)
	}
	if len(f.Statuses) > 0 {
		conds = append(conds, "s.status IN (?"+strings.Repeat(", ?", len(f.Statuses)-1)+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if f.From != nil {
		conds = append(conds, "s.created_us >= ?")
		args = append(args, micros(*f.From))
	}
	if f.To != nil {
		conds = append(conds, "s.created_us <= ?")
		args = append(args, micros(*f.To))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// QuerySessions returns one page of the sessions a filter selects, newest first, and how many
// it selects (FM-SES-5, FM-CON-2).
func (db *DB) QuerySessions(ctx context.Context, f facematch.SessionQuery) (_ facematch.SessionPage, err error) {
	defer wrapOp(&err, "sqlite.QuerySessions")
	page := facematch.SessionPage{Sessions: []facematch.Session{}}
	where, args := sessionWhere(f)
	if err := db.countSessions(ctx, f, where, args).Scan(&page.Count); err != nil {
		return page, err
	}
	if page.Count == 0 || f.Offset >= page.Count {
		return page, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = facematch.DefaultListLimit
	}
	// The page's ids come from an index alone, skipping offset rows without reading them; only
	// the page's rows are read whole.
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id IN (SELECT s.id FROM sessions s`+
		where+` ORDER BY s.created_us DESC, s.id DESC LIMIT ? OFFSET ?) ORDER BY created_us DESC, id DESC`, append(args, limit, f.Offset)...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return page, err
		}
		page.Sessions = append(page.Sessions, s)
	}
	return page, rows.Err()
}

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, app_id, number, vendor_data, metadata, face_match, created_us, threshold`

// countSessions counts what a filter selects: from the kept counts when it only scopes the list
// to an application or an organization, by the indexes otherwise.
func (db *DB) countSessions(ctx context.Context, f facematch.SessionQuery, where string, args []any) *sql.Row {
	if f.VendorData == nil && f.Search == "" && len(f.Statuses) == 0 && f.From == nil && f.To == nil && (f.AppID == "") != (f.OrgID == "") {
		return db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(n), 0) FROM session_counts WHERE scope = ?`, f.AppID+f.OrgID)
	}
	return db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions s`+where, args...)
}

// scanSession reads the columns of sessionColumns.
func scanSession(sc interface{ Scan(...any) error }) (facematch.Session, error) {
	var (
		s        facematch.Session
		vendor   sql.NullString
		metadata sql.NullString
		fm       string
		created  int64
	)
	if err := sc.Scan(&s.ID, &s.AppID, &s.Number, &vendor, &metadata, &fm, &created, &s.Threshold); err != nil {
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
