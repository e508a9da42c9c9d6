package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
)

// bulkSessions writes n sessions of app in one transaction, one second apart from start, every
// third Declined, every seventh without a face pair, vendor_data "user-<i mod 1000>".
func bulkSessions(tb testing.TB, db *DB, app string, n int, start time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO sessions (id, app_id, number, vendor_data, metadata, face_match, created_us) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT session_seq FROM applications WHERE id = ?`, app).Scan(&seq); err != nil {
			return err
		}
		for i := range n {
			score := 80.0
			if i%3 == 0 {
				score = 12.5
			}
			var sp *float64
			if i%7 != 0 {
				sp = &score
			}
			face := facematch.ImageResult{Entities: []facematch.Entity{{BBox: [4]int{10, 10, 110, 110}}}}
			fm, _ := json.Marshal(facematch.Decide(sp, face, face, facematch.DefaultThreshold))
			seq++
			if _, err := st.ExecContext(ctx, uuid.NewString(), app, seq, fmt.Sprintf("user-%d", i%1000), `{"i":`+fmt.Sprint(i)+`}`, string(fm),
				micros(start.Add(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE applications SET session_seq = ? WHERE id = ?`, seq, app)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// [FM-SES-5] The list's filters combine with AND, newest first, scoped to the application or
// the organization, and a deleted session is gone.
func TestListSessionsFilters(t *testing.T) {
	db := open(t, t.TempDir())
	ctx := context.Background()
	o, a := seed(t, db, 0)
	b, err := db.CreateApplication(ctx, o.ID, "other", facematch.ModeLive)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bulkSessions(t, db, a.ID, 2100, start)
	bulkSessions(t, db, b.ID, 10, start)
	vd := "user-7"
	cases := []struct {
		name string
		f    facematch.SessionQuery
		want int
	}{
		{"app", facematch.SessionQuery{AppID: a.ID}, 2100},
		{"org", facematch.SessionQuery{OrgID: o.ID}, 2110},
		{"vendor_data", facematch.SessionQuery{AppID: a.ID, VendorData: &vd}, 3},
		{"search", facematch.SessionQuery{AppID: a.ID, Search: "SER-99"}, 3 + 10*2}, // user-99 three times, user-990..999 twice each
		{"search wildcard is literal", facematch.SessionQuery{AppID: a.ID, Search: "user_"}, 0},
		{"status", facematch.SessionQuery{AppID: a.ID, Statuses: []string{facematch.StatusApproved}}, 2100 - 700 - 200},
		{"from to", facematch.SessionQuery{AppID: a.ID, From: ptr(start.Add(10 * time.Second)), To: ptr(start.Add(19 * time.Second))}, 10},
		{"and", facematch.SessionQuery{AppID: a.ID, VendorData: &vd, To: ptr(start.Add(1007 * time.Second))}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.Limit = 5
			p, err := db.QuerySessions(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Count != c.want {
				t.Fatalf("count %d, want %d", p.Count, c.want)
			}
			for i := 1; i < len(p.Sessions); i++ {
				if p.Sessions[i].CreatedAt.After(p.Sessions[i-1].CreatedAt) {
					t.Fatal("not newest first")
				}
			}
		})
	}
	p, _ := db.QuerySessions(ctx, facematch.SessionQuery{AppID: a.ID, Limit: 1})
	if err := db.DeleteSession(ctx, a.ID, p.Sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	q, _ := db.QuerySessions(ctx, facematch.SessionQuery{AppID: a.ID, Limit: 1})
	if q.Count != 2099 || q.Sessions[0].ID == p.Sessions[0].ID {
		t.Fatalf("the deleted session is still listed: %d", q.Count)
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkListSessions100k is one filtered page (vendor_data search and status, the
// heaviest filters) and one unfiltered page of an application with 100,000 sessions.
func BenchmarkListSessions100k(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	o, _ := db.CreateOrganization(ctx, "Acme", 0)
	a, _ := db.CreateApplication(ctx, o.ID, "web", facematch.ModeLive)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bulkSessions(b, db, a.ID, 100_000, start)
	vd := "user-42"
	for _, c := range []struct {
		name string
		f    facematch.SessionQuery
	}{
		{"page", facematch.SessionQuery{AppID: a.ID, Limit: 50}},
		{"deep-page", facematch.SessionQuery{AppID: a.ID, Limit: 50, Offset: 50_000}},
		{"vendor_data", facematch.SessionQuery{AppID: a.ID, VendorData: &vd, Limit: 50}},
		{"status+dates", facematch.SessionQuery{AppID: a.ID, Statuses: []string{facematch.StatusDeclined}, From: ptr(start.Add(time.Hour)), To: ptr(start.Add(20 * time.Hour)), Limit: 50}},
		{"search", facematch.SessionQuery{AppID: a.ID, Search: "ER-42", Limit: 50}},
		{"org", facematch.SessionQuery{OrgID: o.ID, Limit: 50}},
		{"org+status", facematch.SessionQuery{OrgID: o.ID, Statuses: []string{facematch.StatusApproved}, Limit: 50}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.QuerySessions(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
