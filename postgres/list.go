package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch"
)

// sessionWhere builds the WHERE clause of a filter and its arguments ($1, $2, ...), shared by
// the page and its count.
func sessionWhere(f facematch.SessionQuery) (string, []any) {
	var (
		conds []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.AppID != "" {
		conds = append(conds, "s.app_id = "+arg(f.AppID))
	}
	if f.OrgID != "" {
		conds = append(conds, "s.app_id IN (SELECT id FROM applications WHERE org_id = "+arg(f.OrgID)+")")
	}
	if f.VendorData != nil {
		conds = append(conds, "s.vendor_data = "+arg(*f.VendorData))
	}
	if f.Search != "" {
		conds = append(conds, "strpos(s.vendor_search, lower("+arg(f.Search)+")) > 0")
	}
	if len(f.Statuses) > 0 {
		conds = append(conds, "s.status = ANY("+arg(f.Statuses)+")")
	}
	if f.From != nil {
		conds = append(conds, "s.created_us >= "+arg(micros(*f.From)))
	}
	if f.To != nil {
		conds = append(conds, "s.created_us <= "+arg(micros(*f.To)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// QuerySessions returns one page of the sessions a filter selects, newest first, and how many
// it selects (FM-SES-5, FM-CON-2).
func (db *DB) QuerySessions(ctx context.Context, f facematch.SessionQuery) (_ facematch.SessionPage, err error) {
	defer wrapOp(&err, "postgres.QuerySessions")
	page := facematch.SessionPage{Sessions: []facematch.Session{}}
	where, args := sessionWhere(f)
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM sessions s`+where, args...).Scan(&page.Count); err != nil {
		return page, err
	}
	if page.Count == 0 || f.Offset >= page.Count {
		return page, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = facematch.DefaultListLimit
	}
	n := len(args)
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s`+where+
		` ORDER BY s.created_us DESC, s.id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), append(args, limit, f.Offset)...)
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
const sessionColumns = `s.id, s.app_id, s.number, s.vendor_data, s.metadata, s.face_match, s.created_us, s.threshold`

// scanSession reads the columns of sessionColumns.
func scanSession(row pgx.Row) (facematch.Session, error) {
	var (
		s        facematch.Session
		metadata *string
		fm       string
		created  int64
	)
	if err := row.Scan(&s.ID, &s.AppID, &s.Number, &s.VendorData, &metadata, &fm, &created, &s.Threshold); err != nil {
		return s, err
	}
	if metadata != nil {
		s.Metadata = json.RawMessage(*metadata)
	}
	s.CreatedAt = fromMicros(created)
	return s, json.Unmarshal([]byte(fm), &s.FaceMatch)
}
