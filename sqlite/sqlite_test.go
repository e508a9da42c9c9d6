package sqlite

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// clock is a time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 6, 12, 1, 4, 42, 0, time.UTC)} }
func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func seed(t *testing.T, db *DB, credits int64) (facematch.Organization, facematch.Application) {
	t.Helper()
	ctx := context.Background()
	o, err := db.CreateOrganization(ctx, "Acme", credits)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateApplication(ctx, o.ID, "web", facematch.ModeLive)
	if err != nil {
		t.Fatal(err)
	}
	return o, a
}

func TestMigrationsAreIdempotent(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	o, _ := seed(t, db, 5)
	db.Close()
	again := open(t, dir)
	got, err := again.Organization(context.Background(), o.ID)
	if err != nil || got.Credits != 5 {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	var mode string
	if err := again.read.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := again.read.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
}

// [FM-BILL-2] Reservations from many goroutines and two handles on the same file (as the server
// and an operator command are) never overdraw the balance.
func TestReserveCreditNeverOverdraws(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	other := open(t, dir)
	o, _ := seed(t, db, 10)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := db
			if i%2 == 1 {
				h = other
			}
			_, err := h.ReserveCredit(context.Background(), o.ID, "req")
			switch facematch.ErrorCode(err) {
			case "":
				ok.Add(1)
			case facematch.ENOCREDITS:
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := db.Organization(context.Background(), o.ID)
	if ok.Load() != 10 || refused.Load() != 40 || got.Credits != 0 {
		t.Fatalf("reserved %d, refused %d, balance %d; want 10, 40, 0", ok.Load(), refused.Load(), got.Credits)
	}
}

func TestReleaseAndConsume(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	o, _ := seed(t, db, 2)
	r1, _ := db.ReserveCredit(ctx, o.ID, "a")
	r2, _ := db.ReserveCredit(ctx, o.ID, "b")
	if err := db.ReleaseCredit(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseCredit(ctx, r1); err != nil { // twice gives back one credit
		t.Fatal(err)
	}
	if err := db.ConsumeCredit(ctx, r2); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Organization(ctx, o.ID)
	if got.Credits != 1 {
		t.Fatalf("balance %d, want 1", got.Credits)
	}
	// A reservation orphaned by a crash is given back on the next start.
	if _, err := db.ReserveCredit(ctx, o.ID, "c"); err != nil {
		t.Fatal(err)
	}
	n, err := db.ReleaseReservationsBefore(ctx, time.Now().Add(time.Second))
	got, _ = db.Organization(ctx, o.ID)
	if err != nil || n != 1 || got.Credits != 1 {
		t.Fatalf("released %d (%v), balance %d; want 1, 1", n, err, got.Credits)
	}
}

func TestAddCreditsRefusesNegativeBalance(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	o, _ := seed(t, db, 3)
	if _, err := db.AddCredits(ctx, o.ID, -4); facematch.ErrorCode(err) != facematch.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	got, err := db.AddCredits(ctx, o.ID, -3)
	if err != nil || got.Credits != 0 {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := db.AddCredits(ctx, "nope", 1); facematch.ErrorCode(err) != facematch.ENOTFOUND {
		t.Fatalf("err = %v, want ENOTFOUND", err)
	}
}

// [FM-RL-1] The window slides: a slot frees exactly one window after the request that took it.
func TestRateLimitSlidingWindow(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	c := newClock()
	db.Now = c.Now
	for i := range 3 {
		d, err := db.TakeRequest(ctx, "k", "write", 3, time.Minute)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v, %v", i, d, err)
		}
		c.Add(10 * time.Second)
	}
	d, _ := db.TakeRequest(ctx, "k", "write", 3, time.Minute)
	if d.Allowed || d.Remaining != 0 || !d.Reset.Equal(newClock().Now().Add(time.Minute)) {
		t.Fatalf("4th: %+v", d)
	}
	// Another bucket and another key have budgets of their own.
	if d, _ := db.TakeRequest(ctx, "k", "read", 3, time.Minute); !d.Allowed {
		t.Fatal("read bucket shares the write budget")
	}
	if d, _ := db.TakeRequest(ctx, "k2", "write", 3, time.Minute); !d.Allowed {
		t.Fatal("another key shares the budget")
	}
	c.Add(30 * time.Second) // the first request is now exactly a minute old
	if d, _ := db.TakeRequest(ctx, "k", "write", 3, time.Minute); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after the first slot freed: %+v", d)
	}
}

// [FM-RL-1] Concurrent requests of one key are counted exactly, however they are grouped into
// transactions: with a budget of 150 and 400 requests at once, exactly 150 pass, each seeing a
// different number of requests left, and another key's budget is untouched.
func TestRateLimitExactUnderConcurrency(t *testing.T) {
	db := open(t, t.TempDir())
	const limit, calls = 150, 400
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		remaining = map[int]int{}
		allowed   atomic.Int64
	)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Some callers give up at once: their requests are still counted exactly.
			ctx, cancel := context.WithCancel(context.Background())
			if i%7 == 0 {
				cancel()
			}
			defer cancel()
			d, err := db.TakeRequest(ctx, "k", "write", limit, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
				mu.Lock()
				remaining[d.Remaining]++
				mu.Unlock()
			} else if d.Remaining != 0 || d.Reset.IsZero() {
				t.Errorf("refused take: %+v", d)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != limit {
		t.Fatalf("%d requests allowed, want %d", allowed.Load(), limit)
	}
	for r := range limit {
		if remaining[r] != 1 {
			t.Fatalf("remaining %d seen %d times, want once: %v", r, remaining[r], remaining)
		}
	}
	if d, err := db.TakeRequest(context.Background(), "k2", "write", limit, time.Minute); err != nil || !d.Allowed || d.Remaining != limit-1 {
		t.Fatalf("another key: %+v, %v", d, err)
	}
}

// A batch that fails fails every take in it, and nobody is left waiting: on a closed database,
// concurrent takes all return an error.
func TestRateLimitFailureReachesEveryCaller(t *testing.T) {
	db := open(t, t.TempDir())
	db.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := db.TakeRequest(context.Background(), "k", "write", 10, time.Minute); err != nil && !d.Allowed {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 50 {
		t.Fatalf("%d of 50 takes failed", failed.Load())
	}
}

func TestSessionRoundTripAndDelete(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	o, a := seed(t, db, 5)
	other, _ := db.CreateApplication(ctx, o.ID, "other", facematch.ModeLive)
	score := 87.35
	vendor := "user-123"
	for i := range 2 {
		id := newID()
		r, err := db.ReserveCredit(ctx, o.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		s, err := db.CreateSession(ctx, facematch.NewSession{
			Session: facematch.Session{ID: id, AppID: a.ID, VendorData: &vendor, Metadata: []byte(`{"flow":"login"}`),
				CreatedAt: time.Now().UTC(), FaceMatch: facematch.FaceMatch{Status: "Approved", Score: &score, Warnings: []facematch.Warning{}}},
			Source: facematch.StoredImage{ContentType: "image/png", Data: []byte("ref")},
			Target: facematch.StoredImage{ContentType: "image/jpeg", Data: []byte("user")},
			Credit: r,
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.Number != int64(i+1) {
			t.Fatalf("session number %d, want %d", s.Number, i+1)
		}
		got, err := db.Session(ctx, a.ID, s.ID)
		if err != nil || *got.FaceMatch.Score != score || *got.VendorData != vendor || string(got.Metadata) != `{"flow":"login"}` {
			t.Fatalf("%+v, %v", got, err)
		}
		if _, err := db.Session(ctx, other.ID, s.ID); facematch.ErrorCode(err) != facematch.ENOTFOUND {
			t.Fatalf("another application sees the session: %v", err)
		}
		img, err := db.SessionImage(ctx, s.ID, facematch.ImageSource)
		if err != nil || string(img.Data) != "ref" || img.ContentType != "image/png" {
			t.Fatalf("%+v %v", img, err)
		}
		if err := db.DeleteSession(ctx, other.ID, s.ID); facematch.ErrorCode(err) != facematch.ENOTFOUND {
			t.Fatalf("another application deleted the session: %v", err)
		}
		if err := db.DeleteSession(ctx, a.ID, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionImage(ctx, s.ID, facematch.ImageTarget); facematch.ErrorCode(err) != facematch.ENOTFOUND {
			t.Fatalf("image survives its session: %v", err)
		}
	}
	got, _ := db.Organization(ctx, o.ID)
	if got.Credits != 3 {
		t.Fatalf("balance %d, want 3", got.Credits)
	}
}

func TestKeysAndSecrets(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	_, a := seed(t, db, 0)
	id, secret, _ := facematch.NewAPIKey(a.Mode)
	if _, err := db.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: a.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		t.Fatal(err)
	}
	k, app, err := db.APIKey(ctx, id)
	if err != nil || app.ID != a.ID || !facematch.SecretMatches(k.SecretHash, secret) || k.RevokedAt != nil {
		t.Fatalf("%+v %+v %v", k, app, err)
	}
	if err := db.RevokeAPIKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := db.APIKey(ctx, id); k.RevokedAt == nil {
		t.Fatal("key not revoked")
	}
	s1, err := db.Secret(ctx, "media")
	s2, _ := db.Secret(ctx, "media")
	if err != nil || len(s1) != 32 || string(s1) != string(s2) {
		t.Fatalf("secret %x %x %v", s1, s2, err)
	}
}
