package console_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/sqlite"
)

// bulkSessions writes n sessions of an application straight into the database file in one
// transaction (saving them through the API would take an hour), spread over the last 40 days:
// every third Declined, every seventh without a face pair, vendor_data "customer-<i mod 5000>".
func bulkSessions(tb testing.TB, dir, appID string, n int, now time.Time) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(15000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO sessions (id, app_id, number, vendor_data, metadata, face_match, created_us) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	face := facematch.ImageResult{Entities: []facematch.Entity{{BBox: [4]int{40, 30, 140, 130}}}}
	span := 40 * 24 * time.Hour
	for i := range n {
		score := 81.5
		if i%3 == 0 {
			score = 12.25
		}
		var sp *float64
		if i%7 != 0 {
			sp = &score
		}
		fm, _ := json.Marshal(facematch.Decide(sp, face, face, facematch.DefaultThreshold))
		at := now.Add(-span + time.Duration(i)*(span/time.Duration(n)))
		if _, err := st.Exec(uuid.NewString(), appID, i+1000, fmt.Sprintf("customer-%d", i%5000), `{"i":`+fmt.Sprint(i)+`}`, string(fm), at.UnixMicro()); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE applications SET session_seq = ? WHERE id = ?`, n+1000, appID); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkConsolePages100k is the server time of each console page (the handler, without the
// network) for an organization with 100,000 saved sessions: the target is under 50 ms each.
func BenchmarkConsolePages100k(b *testing.B) {
	e := newEnv(b, nil)
	acme := e.tenant("acme", 1000, true)
	ctx := context.Background()
	// One session saved the ordinary way, with its images, for the session page.
	one, err := e.db.CreateSession(ctx, facematch.NewSession{
		Session: facematch.Session{ID: uuid.NewString(), AppID: acme.app.ID, CreatedAt: e.clock.Now(),
			FaceMatch: facematch.Decide(ptr(77.0), facematch.ImageResult{Entities: []facematch.Entity{{BBox: [4]int{200, 60, 330, 190}}}},
				facematch.ImageResult{Entities: []facematch.Entity{{BBox: [4]int{220, 280, 480, 540}}}}, facematch.DefaultThreshold)},
		Source: facematch.StoredImage{ContentType: "image/jpeg", Data: shared.Read(b, "fixtures", "faces", "barack_obama/obama2.jpg")},
		Target: facematch.StoredImage{ContentType: "image/jpeg", Data: shared.Read(b, "fixtures", "faces", "barack_obama/obama.jpg")},
		Credit: reserve(b, e, acme.org.ID),
	})
	if err != nil {
		b.Fatal(err)
	}
	bulkSessions(b, e.dir, acme.app.ID, 100_000, e.clock.Now())
	f := newFormClient(b, e.srv.URL)
	res := f.login(acme.email, acme.password)
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "fm_console" {
			cookie = c
		}
	}
	if cookie == nil {
		b.Fatalf("login: %d", res.StatusCode)
	}
	day := e.clock.Now().AddDate(0, 0, -3).Format(time.DateOnly)
	for _, p := range []struct{ name, path string }{
		{"overview", "/console/"},
		{"sessions", "/console/sessions"},
		{"sessions-page-1000", "/console/sessions?offset=50000"},
		{"sessions-vendor_data", "/console/sessions?vendor_data=customer-42"},
		{"sessions-search", "/console/sessions?search=omer-42"},
		{"sessions-status-app-dates", "/console/sessions?status=Declined&app=" + acme.app.ID + "&date_from=" + day + "&date_to=" + day},
		{"session", "/console/sessions/" + one.ID},
		{"application", "/console/apps/" + acme.app.ID},
		{"organizations", "/console/admin/organizations"},
		{"audit", "/console/admin/audit"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				e.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %.300s", p.path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// reserve takes the credit a saved session consumes.
func reserve(tb testing.TB, e *env, orgID string) facematch.Reservation {
	tb.Helper()
	r, err := e.db.ReserveCredit(context.Background(), orgID, uuid.NewString())
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
