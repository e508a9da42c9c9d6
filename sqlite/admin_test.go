package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// A purge takes more than one batch, deletes only what is older and of the application asked,
// and empties the bodies of the purged sessions' finished deliveries while a pending one keeps
// its body.
func TestPurgeSessions(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	org, web := seed(t, db, 1000)
	ios, err := db.CreateApplication(ctx, org.ID, "ios", facematch.ModeLive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateDestination(ctx, facematch.Destination{ID: "dest", AppID: web.ID, Label: "l", URL: "https://example.com/h",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "whsec_x"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	save := func(app facematch.Application, id string, created time.Time) {
		t.Helper()
		r, err := db.ReserveCredit(ctx, org.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateSession(ctx, facematch.NewSession{
			Session: facematch.Session{ID: id, AppID: app.ID, CreatedAt: created},
			Source:  facematch.StoredImage{ContentType: "image/png", Data: []byte("s")},
			Target:  facematch.StoredImage{ContentType: "image/png", Data: []byte("t")},
			Credit:  r,
			WebhookBody: func(facematch.Session) ([]byte, error) {
				return []byte(`{"session_id":"` + id + `"}`), nil
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	old := purgeBatch + 7
	for i := range old {
		save(web, fmt.Sprintf("old-%d", i), now.Add(-48*time.Hour+time.Duration(i)*time.Second))
	}
	save(web, "young", now.Add(-time.Hour))
	save(ios, "other-app", now.Add(-72*time.Hour))
	// Every delivery but old-0's is finished.
	if _, err := db.write.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'delivered' WHERE session_id != 'old-0'`); err != nil {
		t.Fatal(err)
	}

	n, err := db.PurgeSessions(ctx, now.Add(-24*time.Hour), web.ID)
	if err != nil || n != int64(old) {
		t.Fatalf("purged %d (%v), want %d", n, err, old)
	}
	count := func(query string, args ...any) (c int) {
		t.Helper()
		if err := db.read.QueryRowContext(ctx, query, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := count(`SELECT COUNT(*) FROM sessions`); c != 2 {
		t.Fatalf("%d sessions left, want young and other-app", c)
	}
	if c := count(`SELECT COUNT(*) FROM session_images`); c != 4 {
		t.Fatalf("%d images left, want 4", c)
	}
	if c := count(`SELECT COUNT(*) FROM webhook_deliveries WHERE session_id LIKE 'old-%' AND length(body) > 0`); c != 1 {
		t.Fatalf("%d purged sessions' deliveries keep a body, want only the pending one", c)
	}
	if c := count(`SELECT COUNT(*) FROM webhook_deliveries WHERE session_id = 'young' AND length(body) > 0`); c != 1 {
		t.Fatal("a kept session's delivery lost its body")
	}
	if n, err := db.PurgeSessions(ctx, now.Add(-24*time.Hour), ""); err != nil || n != 1 {
		t.Fatalf("purge of every application: %d %v", n, err)
	}
	if _, err := db.PurgeSessions(ctx, now, "nope"); facematch.ErrorCode(err) != facematch.ENOTFOUND {
		t.Fatalf("unknown application: %v", err)
	}
}

// A backup is a database of its own, taken while another connection writes, with owner-only
// permissions; it never overwrites a file.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	org, _ := seed(t, db, 5)
	out := t.TempDir()
	path := out + "/" + FileName
	if err := db.Backup(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, path); err == nil {
		t.Fatal("a second backup to the same file succeeded")
	}
	copyDB := open(t, out)
	got, err := copyDB.Organization(ctx, org.ID)
	if err != nil || got.Credits != 5 {
		t.Fatalf("the copy's organization: %+v %v", got, err)
	}
}
