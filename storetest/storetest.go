// Package storetest is the one test suite of facematch.Store, run against every backend (the
// SQLite and the PostgreSQL store run it from their own tests), so that the two cannot drift:
// tenancy, credits, rate limit, sessions, the webhook outbox, leases and secrets, each checked
// through two handles on one database where a rule must hold across processes.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// Open opens one more handle on the database under test, reading time from now.
type Open func(t *testing.T, now func() time.Time) facematch.Store

// NewDatabase creates an empty database and returns how to open handles on it.
type NewDatabase func(t *testing.T) Open

// Clock is a time source tests move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 6, 12, 1, 4, 42, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Run runs the whole suite against a backend.
func Run(t *testing.T, newDB NewDatabase) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"TenancyRoundTrip", testTenancyRoundTrip},
		{"AddCreditsRefusesNegativeBalance", testAddCreditsRefusesNegativeBalance},
		{"ReserveCreditNeverOverdraws", testReserveCreditNeverOverdraws},
		{"ReleaseAndConsume", testReleaseAndConsume},
		{"RateLimitSlidingWindow", testRateLimitSlidingWindow},
		{"RateLimitExactAcrossHandles", testRateLimitExactAcrossHandles},
		{"SessionRoundTripAndDelete", testSessionRoundTripAndDelete},
		{"SessionNumbersUniqueAcrossHandles", testSessionNumbersUniqueAcrossHandles},
		{"SessionWithoutReservationLeavesNothing", testSessionWithoutReservationLeavesNothing},
		{"Destinations", testDestinations},
		{"DeliveriesQueuedWithTheSession", testDeliveriesQueuedWithTheSession},
		{"DeliveriesClaimedOnceAcrossHandles", testDeliveriesClaimedOnceAcrossHandles},
		{"DeliveryLifecycle", testDeliveryLifecycle},
		{"LeasesReturnWhatLapsedOwnersHeld", testLeasesReturnWhatLapsedOwnersHeld},
		{"SecretSharedByHandles", testSecretSharedByHandles},
		{"ListSessions", testListSessions},
		{"AccountsAndLogins", testAccountsAndLogins},
		{"ConsoleReads", testConsoleReads},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

func seed(t *testing.T, s facematch.Store, credits int64) (facematch.Organization, facematch.Application) {
	t.Helper()
	ctx := context.Background()
	o, err := s.CreateOrganization(ctx, "Acme", credits)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateApplication(ctx, o.ID, "web", facematch.ModeLive)
	if err != nil {
		t.Fatal(err)
	}
	return o, a
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if facematch.ErrorCode(err) != code {
		t.Fatalf("%s: err = %v, want %s", what, err, code)
	}
}

func balance(t *testing.T, s facematch.Store, orgID string) int64 {
	t.Helper()
	o, err := s.Organization(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	return o.Credits
}

var requestSeq atomic.Int64

func requestID() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", requestSeq.Add(1))
}

// save reserves a credit and saves a session of app with it, queuing webhook bodies that name
// the session and its number.
func save(t *testing.T, s facematch.Store, o facematch.Organization, app facematch.Application, at time.Time) (facematch.Session, error) {
	t.Helper()
	ctx := context.Background()
	id := requestID()
	r, err := s.ReserveCredit(ctx, o.ID, id)
	if err != nil {
		return facematch.Session{}, err
	}
	score := 87.35
	vendor := "user-123"
	return s.CreateSession(ctx, facematch.NewSession{
		Session: facematch.Session{ID: id, AppID: app.ID, VendorData: &vendor, Metadata: []byte(`{"flow":"login"}`),
			CreatedAt: at, FaceMatch: facematch.FaceMatch{Status: "Approved", Score: &score, Warnings: []facematch.Warning{}}, Threshold: 42.5},
		Source: facematch.StoredImage{ContentType: "image/png", Data: []byte("ref\x00\xff")},
		Target: facematch.StoredImage{ContentType: "image/jpeg", Data: []byte("user")},
		Credit: r,
		WebhookBody: func(s facematch.Session) ([]byte, error) {
			return fmt.Appendf(nil, `{"session_id":%q,"number":%d}`, s.ID, s.Number), nil
		},
	})
}

func testTenancyRoundTrip(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	if _, err := s.CreateOrganization(ctx, "  ", 1); true {
		wantCode(t, "blank organization name", err, facematch.EINVALID)
	}
	if _, err := s.CreateOrganization(ctx, "Acme", -1); true {
		wantCode(t, "negative credits", err, facematch.EINVALID)
	}
	if _, err := s.Organization(ctx, "nope"); true {
		wantCode(t, "unknown organization", err, facematch.ENOTFOUND)
	}
	o, err := s.CreateOrganization(ctx, " Acme ", 7)
	if err != nil || o.Name != "Acme" || o.Credits != 7 {
		t.Fatalf("%+v, %v", o, err)
	}
	if _, err := s.CreateApplication(ctx, "nope", "web", facematch.ModeLive); true {
		wantCode(t, "application of an unknown organization", err, facematch.ENOTFOUND)
	}
	if _, err := s.CreateApplication(ctx, o.ID, "web", "staging"); true {
		wantCode(t, "unknown mode", err, facematch.EINVALID)
	}
	a, err := s.CreateApplication(ctx, o.ID, "web", facematch.ModeSandbox)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Application(ctx, a.ID); err != nil || got.OrgID != o.ID || got.Mode != facematch.ModeSandbox || got.Name != "web" {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := s.Application(ctx, "nope"); true {
		wantCode(t, "unknown application", err, facematch.ENOTFOUND)
	}
	id, secret, _ := facematch.NewAPIKey(a.Mode)
	if _, err := s.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: "nope", SecretHash: facematch.HashSecret(secret)}); true {
		wantCode(t, "key of an unknown application", err, facematch.ENOTFOUND)
	}
	if _, err := s.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: a.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		t.Fatal(err)
	}
	other := open(t, time.Now) // another replica sees the key at once
	k, app, err := other.APIKey(ctx, id)
	if err != nil || app.ID != a.ID || app.OrgID != o.ID || app.Mode != facematch.ModeSandbox || !facematch.SecretMatches(k.SecretHash, secret) || k.RevokedAt != nil {
		t.Fatalf("%+v %+v %v", k, app, err)
	}
	if _, _, err := s.APIKey(ctx, "0123456789abcdef"); true {
		wantCode(t, "unknown key", err, facematch.ENOTFOUND)
	}
	for range 2 { // revoking again is harmless
		if err := s.RevokeAPIKey(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if k, _, _ := other.APIKey(ctx, id); k.RevokedAt == nil {
		t.Fatal("key not revoked")
	}
	wantCode(t, "revoking an unknown key", s.RevokeAPIKey(ctx, "nope"), facematch.ENOTFOUND)
}

func testAddCreditsRefusesNegativeBalance(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	o, _ := seed(t, s, 3)
	if _, err := s.AddCredits(ctx, o.ID, -4); true {
		wantCode(t, "removing more than the balance", err, facematch.EINVALID)
	}
	got, err := s.AddCredits(ctx, o.ID, -3)
	if err != nil || got.Credits != 0 {
		t.Fatalf("%+v, %v", got, err)
	}
	if got, err := s.AddCredits(ctx, o.ID, 5); err != nil || got.Credits != 5 {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := s.AddCredits(ctx, "nope", 1); true {
		wantCode(t, "unknown organization", err, facematch.ENOTFOUND)
	}
}

// [FM-BILL-2] Reservations from many goroutines over two handles on one database (two
// replicas) never overdraw the balance: exactly the balance is reserved, the rest refused.
func testReserveCreditNeverOverdraws(t *testing.T, open Open) {
	handles := []facematch.Store{open(t, time.Now), open(t, time.Now)}
	o, _ := seed(t, handles[0], 10)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := handles[i%2].ReserveCredit(context.Background(), o.ID, requestID())
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
	if ok.Load() != 10 || refused.Load() != 50 || balance(t, handles[1], o.ID) != 0 {
		t.Fatalf("%d reserved, %d refused, balance %d; want 10, 50, 0", ok.Load(), refused.Load(), balance(t, handles[1], o.ID))
	}
}

func testReleaseAndConsume(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	o, _ := seed(t, s, 2)
	r1, err := s.ReserveCredit(ctx, o.ID, requestID())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.ReserveCredit(ctx, o.ID, requestID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveCredit(ctx, o.ID, requestID()); true {
		wantCode(t, "third reservation of two credits", err, facematch.ENOCREDITS)
	}
	for range 2 { // releasing twice gives back one credit
		if err := s.ReleaseCredit(ctx, r1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ConsumeCredit(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeCredit(ctx, r2); err == nil {
		t.Fatal("a reservation was consumed twice")
	}
	if err := s.ReleaseCredit(ctx, r2); err != nil { // consumed: nothing to give back
		t.Fatal(err)
	}
	if b := balance(t, s, o.ID); b != 1 {
		t.Fatalf("balance %d, want 1", b)
	}
}

// [FM-RL-1] The window slides: a slot frees exactly one window after the request that took it,
// and buckets and keys have budgets of their own.
func testRateLimitSlidingWindow(t *testing.T, open Open) {
	ctx := context.Background()
	c := NewClock()
	s := open(t, c.Now)
	start := c.Now()
	for i := range 3 {
		d, err := s.TakeRequest(ctx, "k", "write", 3, time.Minute)
		if err != nil || !d.Allowed || d.Remaining != 2-i || d.Limit != 3 || !d.Reset.Equal(start.Add(time.Minute)) {
			t.Fatalf("request %d: %+v, %v", i, d, err)
		}
		c.Add(10 * time.Second)
	}
	d, err := s.TakeRequest(ctx, "k", "write", 3, time.Minute)
	if err != nil || d.Allowed || d.Remaining != 0 || !d.Reset.Equal(start.Add(time.Minute)) {
		t.Fatalf("4th: %+v, %v", d, err)
	}
	if d, _ := s.TakeRequest(ctx, "k", "read", 3, time.Minute); !d.Allowed {
		t.Fatal("read bucket shares the write budget")
	}
	if d, _ := s.TakeRequest(ctx, "k2", "write", 3, time.Minute); !d.Allowed {
		t.Fatal("another key shares the budget")
	}
	c.Add(30 * time.Second) // the first request is now exactly a minute old
	if d, _ := s.TakeRequest(ctx, "k", "write", 3, time.Minute); !d.Allowed || d.Remaining != 0 || !d.Reset.Equal(start.Add(70*time.Second)) {
		t.Fatalf("after the first slot freed: %+v", d)
	}
	if d, _ := s.TakeRequest(ctx, "k", "write", 3, time.Minute); d.Allowed { // the refusal above was not counted
		t.Fatalf("a 4th request in the window: %+v", d)
	}
}

// [FM-RL-1] One window per key across handles: 250 concurrent requests of one key over two
// handles of one database (two replicas) with a budget of 100 let exactly 100 in, each seeing
// a different number left.
func testRateLimitExactAcrossHandles(t *testing.T, open Open) {
	handles := []facematch.Store{open(t, time.Now), open(t, time.Now)}
	const limit, calls = 100, 250
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
			d, err := handles[i%2].TakeRequest(context.Background(), "k", "write", limit, time.Minute)
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
			t.Fatalf("remaining %d seen %d times, want once", r, remaining[r])
		}
	}
}

// [FM-SES-3] A session is read, its images fetched and it is deleted through any handle, and
// only by its own application.
func testSessionRoundTripAndDelete(t *testing.T, open Open) {
	ctx := context.Background()
	s, other := open(t, time.Now), open(t, time.Now)
	o, a := seed(t, s, 5)
	stranger, _ := s.CreateApplication(ctx, o.ID, "other", facematch.ModeLive)
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	for i := range 2 {
		sess, err := save(t, s, o, a, at)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Number != int64(i+1) {
			t.Fatalf("session number %d, want %d", sess.Number, i+1)
		}
		got, err := other.Session(ctx, a.ID, sess.ID)
		if err != nil || got.Number != sess.Number || *got.FaceMatch.Score != 87.35 || got.FaceMatch.Status != "Approved" ||
			*got.VendorData != "user-123" || string(got.Metadata) != `{"flow":"login"}` || !got.CreatedAt.Equal(at) || got.Threshold != 42.5 {
			t.Fatalf("%+v, %v", got, err)
		}
		if _, err := other.Session(ctx, stranger.ID, sess.ID); true {
			wantCode(t, "another application's session", err, facematch.ENOTFOUND)
			// Errors name the store method they come from, for the logs of a 500.
			if op := facematch.ErrorOp(err); !strings.HasSuffix(op, ".Session") {
				t.Errorf("the error of Session names the operation %q", op)
			}
		}
		img, err := other.SessionImage(ctx, sess.ID, facematch.ImageSource)
		if err != nil || string(img.Data) != "ref\x00\xff" || img.ContentType != "image/png" {
			t.Fatalf("%+v %v", img, err)
		}
		if img, err := other.SessionImage(ctx, sess.ID, facematch.ImageTarget); err != nil || string(img.Data) != "user" {
			t.Fatalf("%+v %v", img, err)
		}
		wantCode(t, "deleting another application's session", other.DeleteSession(ctx, stranger.ID, sess.ID), facematch.ENOTFOUND)
		if err := other.DeleteSession(ctx, a.ID, sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, a.ID, sess.ID); true {
			wantCode(t, "deleted session", err, facematch.ENOTFOUND)
		}
		if _, err := s.SessionImage(ctx, sess.ID, facematch.ImageTarget); true {
			wantCode(t, "image of a deleted session", err, facematch.ENOTFOUND)
		}
		wantCode(t, "deleting twice", s.DeleteSession(ctx, a.ID, sess.ID), facematch.ENOTFOUND)
	}
	if b := balance(t, s, o.ID); b != 3 {
		t.Fatalf("balance %d, want 3: each saved session consumes its credit", b)
	}
}

// Sessions saved at once through two handles get the numbers 1..n, each once.
func testSessionNumbersUniqueAcrossHandles(t *testing.T, open Open) {
	handles := []facematch.Store{open(t, time.Now), open(t, time.Now)}
	o, a := seed(t, handles[0], 20)
	numbers := make([]int, 20)
	var wg sync.WaitGroup
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := save(t, handles[i%2], o, a, time.Now().UTC())
			if err != nil {
				t.Error(err)
				return
			}
			numbers[i] = int(sess.Number)
		}()
	}
	wg.Wait()
	sort.Ints(numbers)
	for i, n := range numbers {
		if n != i+1 {
			t.Fatalf("numbers %v, want 1..20", numbers)
		}
	}
	if b := balance(t, handles[1], o.ID); b != 0 {
		t.Fatalf("balance %d, want 0", b)
	}
}

// [FM-WH-4] A session whose credit is gone is not saved, and nothing of it stays: no session,
// no image, no delivery, and its number is not used up.
func testSessionWithoutReservationLeavesNothing(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	o, a := seed(t, s, 2)
	if _, err := s.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "hook", URL: "https://example.com/h",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "whsec"}); err != nil {
		t.Fatal(err)
	}
	r, err := s.ReserveCredit(ctx, o.ID, requestID())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseCredit(ctx, r); err != nil {
		t.Fatal(err)
	}
	id := requestID()
	_, err = s.CreateSession(ctx, facematch.NewSession{
		Session: facematch.Session{ID: id, AppID: a.ID, CreatedAt: time.Now().UTC(), FaceMatch: facematch.FaceMatch{Status: "Declined", Warnings: []facematch.Warning{}}},
		Source:  facematch.StoredImage{ContentType: "image/png", Data: []byte("a")},
		Target:  facematch.StoredImage{ContentType: "image/png", Data: []byte("b")},
		Credit:  r, WebhookBody: func(facematch.Session) ([]byte, error) { return []byte(`{}`), nil },
	})
	if err == nil {
		t.Fatal("a session was saved with a released credit")
	}
	if _, err := s.Session(ctx, a.ID, id); true {
		wantCode(t, "session of a failed save", err, facematch.ENOTFOUND)
	}
	if _, err := s.SessionImage(ctx, id, facematch.ImageSource); true {
		wantCode(t, "image of a failed save", err, facematch.ENOTFOUND)
	}
	if got, err := s.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("deliveries of a failed save: %+v, %v", got, err)
	}
	if b := balance(t, s, o.ID); b != 2 {
		t.Fatalf("balance %d, want 2", b)
	}
	sess, err := save(t, s, o, a, time.Now().UTC())
	if err != nil || sess.Number != 1 {
		t.Fatalf("next session: number %d, %v; want 1", sess.Number, err)
	}
}

func testDestinations(t *testing.T, open Open) {
	ctx := context.Background()
	c := NewClock()
	s, other := open(t, c.Now), open(t, c.Now)
	o, a := seed(t, s, 0)
	stranger, _ := s.CreateApplication(ctx, o.ID, "other", facematch.ModeLive)
	if list, err := s.Destinations(ctx, a.ID); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("no destinations: %#v, %v", list, err)
	}
	var made []facematch.Destination
	for i := range 3 {
		d, err := s.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: fmt.Sprint("hook ", i), URL: fmt.Sprintf("https://example.com/%d", i),
			SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: i != 1, Secret: fmt.Sprint("whsec", i)})
		if err != nil || d.ID == "" || !d.CreatedAt.Equal(c.Now()) {
			t.Fatalf("%+v, %v", d, err)
		}
		made = append(made, d)
		c.Add(time.Second)
	}
	list, err := other.Destinations(ctx, a.ID)
	if err != nil || len(list) != 3 {
		t.Fatalf("%+v, %v", list, err)
	}
	for i, d := range list {
		if d.ID != made[i].ID || d.Label != made[i].Label || d.URL != made[i].URL || d.Enabled != made[i].Enabled || d.Secret != made[i].Secret ||
			len(d.SubscribedEvents) != 1 || d.SubscribedEvents[0] != facematch.EventStatusUpdated {
			t.Fatalf("destination %d: %+v, want %+v", i, d, made[i])
		}
	}
	if _, err := other.Destination(ctx, stranger.ID, made[0].ID); true {
		wantCode(t, "another application's destination", err, facematch.ENOTFOUND)
	}
	label, enabled := "renamed", true
	u, err := other.UpdateDestination(ctx, a.ID, made[1].ID, facematch.DestinationUpdate{Label: &label, Enabled: &enabled, SubscribedEvents: []string{}})
	if err != nil || u.Label != label || !u.Enabled || u.URL != made[1].URL || u.Secret != made[1].Secret || len(u.SubscribedEvents) != 0 || !u.UpdatedAt.After(u.CreatedAt) {
		t.Fatalf("%+v, %v", u, err)
	}
	if got, err := s.Destination(ctx, a.ID, made[1].ID); err != nil || got.Label != label || got.SubscribedEvents == nil || len(got.SubscribedEvents) != 0 {
		t.Fatalf("%#v, %v", got, err)
	}
	// The payload version: v3 unless asked, kept as given, changed by an update.
	if made[0].WebhookVersion != facematch.DefaultWebhookVersion || list[0].WebhookVersion != facematch.DefaultWebhookVersion {
		t.Fatalf("default webhook version %q, read back %q", made[0].WebhookVersion, list[0].WebhookVersion)
	}
	v1 := "v1"
	d, err := s.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "v1", URL: "https://example.com/v1",
		SubscribedEvents: []string{"data.updated"}, Enabled: true, Secret: "whsec_v1", WebhookVersion: v1})
	if err != nil || d.WebhookVersion != v1 {
		t.Fatalf("%+v, %v", d, err)
	}
	if got, err := other.Destination(ctx, a.ID, d.ID); err != nil || got.WebhookVersion != v1 || got.SubscribedEvents[0] != "data.updated" {
		t.Fatalf("%+v, %v", got, err)
	}
	v2 := "v2"
	if u, err := other.UpdateDestination(ctx, a.ID, d.ID, facematch.DestinationUpdate{WebhookVersion: &v2}); err != nil || u.WebhookVersion != v2 || u.Label != "v1" {
		t.Fatalf("%+v, %v", u, err)
	}
	if got, _ := s.Destination(ctx, a.ID, d.ID); got.WebhookVersion != v2 {
		t.Fatalf("webhook version %q after the update", got.WebhookVersion)
	}
	if err := s.DeleteDestination(ctx, a.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateDestination(ctx, stranger.ID, made[1].ID, facematch.DestinationUpdate{Label: &label}); true {
		wantCode(t, "updating another application's destination", err, facematch.ENOTFOUND)
	}
	wantCode(t, "deleting another application's destination", s.DeleteDestination(ctx, stranger.ID, made[0].ID), facematch.ENOTFOUND)
	if err := s.DeleteDestination(ctx, a.ID, made[0].ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := other.Destinations(ctx, a.ID); len(list) != 2 {
		t.Fatalf("after delete: %d destinations", len(list))
	}
	if sum, err := s.DeliverySummary(ctx, made[2].ID); err != nil || sum.Total != 0 || sum.MinResponse != nil || sum.LastDeliveryAt != nil {
		t.Fatalf("%+v, %v", sum, err)
	}
}

// [FM-WH-4] Saving a session queues, in its transaction, one delivery to each enabled
// destination of its application subscribed to the event, with the body made from the
// numbered session; disabled, unsubscribed and other applications' destinations get none.
func testDeliveriesQueuedWithTheSession(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	o, a := seed(t, s, 1)
	stranger, _ := s.CreateApplication(ctx, o.ID, "other", facematch.ModeLive)
	dest := func(app facematch.Application, enabled bool, events ...string) facematch.Destination {
		d, err := s.CreateDestination(ctx, facematch.Destination{AppID: app.ID, Label: "h", URL: "https://example.com/" + app.Name,
			SubscribedEvents: events, Enabled: enabled, Secret: "whsec_" + app.Name})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	want := dest(a, true, "other.event", facematch.EventStatusUpdated)
	dest(a, false, facematch.EventStatusUpdated)
	dest(a, true, "other.event")
	dest(stranger, true, facematch.EventStatusUpdated)
	sess, err := save(t, s, o, a, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v, %v; want one delivery", got, err)
	}
	d := got[0]
	if d.ID == "" || d.DestinationID != want.ID || d.SessionID != sess.ID || d.Event != facematch.EventStatusUpdated || d.Attempts != 0 ||
		d.URL != want.URL || d.Secret != want.Secret || string(d.Body) != fmt.Sprintf(`{"session_id":%q,"number":1}`, sess.ID) {
		t.Fatalf("%+v", d)
	}
}

// Deliveries claimed at once by workers of two handles (two replicas) are each claimed by
// exactly one of them.
func testDeliveriesClaimedOnceAcrossHandles(t *testing.T, open Open) {
	ctx := context.Background()
	handles := []facematch.Store{open(t, time.Now), open(t, time.Now)}
	o, a := seed(t, handles[0], 30)
	if _, err := handles[0].CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "h", URL: "https://example.com/h",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if _, err := save(t, handles[0], o, a, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				batch, err := handles[w%2].ClaimDeliveries(ctx, 3, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				for _, d := range batch {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 30 {
		t.Fatalf("%d deliveries claimed, want 30", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}

// A claimed delivery is held for its lease; an attempt that fails is retried at its time,
// then fails for good; a delivered one is done; the summary counts the attempts; a disabled
// destination's deliveries wait.
func testDeliveryLifecycle(t *testing.T, open Open) {
	ctx := context.Background()
	c := NewClock()
	s := open(t, c.Now)
	o, a := seed(t, s, 2)
	d, err := s.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "h", URL: "https://example.com/h",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := save(t, s, o, a, c.Now()); err != nil {
		t.Fatal(err)
	}
	claim := func(want int) []facematch.Delivery {
		t.Helper()
		got, err := s.ClaimDeliveries(ctx, 10, time.Minute)
		if err != nil || len(got) != want {
			t.Fatalf("claimed %d (%v), want %d", len(got), err, want)
		}
		return got
	}
	first := claim(1)[0]
	claim(0) // leased
	c.Add(time.Minute)
	again := claim(1)[0] // the lease lapsed: claimable again, the same delivery
	if again.ID != first.ID || again.Attempts != 0 {
		t.Fatalf("%+v, want %+v", again, first)
	}
	retry := c.Now().Add(4 * time.Minute)
	if err := s.FinishAttempt(ctx, again, facematch.Attempt{At: c.Now(), StatusCode: 503, Latency: 20 * time.Millisecond, Err: "HTTP 503"}, &retry); err != nil {
		t.Fatal(err)
	}
	c.Add(4*time.Minute - time.Second)
	claim(0) // not due yet
	c.Add(time.Second)
	third := claim(1)[0]
	if third.Attempts != 1 {
		t.Fatalf("attempts %d, want 1", third.Attempts)
	}
	lastAttempt := c.Now()
	if err := s.FinishAttempt(ctx, third, facematch.Attempt{At: lastAttempt, Err: "connection refused"}, nil); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	claim(0) // failed for good

	off := false
	if _, err := s.UpdateDestination(ctx, a.ID, d.ID, facematch.DestinationUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "h2", URL: "https://example.com/h2",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := save(t, s, o, a, c.Now()); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := s.UpdateDestination(ctx, a.ID, d.ID, facematch.DestinationUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	// Only the destination enabled when the session was saved got a delivery.
	last := claim(1)[0]
	if last.DestinationID == d.ID {
		t.Fatal("a destination disabled at save time got a delivery")
	}
	if err := s.FinishAttempt(ctx, last, facematch.Attempt{At: c.Now(), StatusCode: 200, Latency: 40 * time.Millisecond, OK: true}, nil); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	claim(0)
	sum, err := s.DeliverySummary(ctx, d.ID)
	if err != nil || sum.Total != 2 || sum.Failed != 2 || sum.MinResponse == nil || *sum.MinResponse != 20*time.Millisecond ||
		*sum.MaxResponse != 20*time.Millisecond || *sum.AvgResponse != 20*time.Millisecond || sum.LastDeliveryAt == nil ||
		!sum.LastDeliveryAt.Equal(lastAttempt) {
		t.Fatalf("%+v, %v", sum, err)
	}
}

// [FM-SCALE-3] What a server holds is recorded under its lease: while the lease is live,
// another server's reclaim touches nothing of it (a starting replica disturbs no one); once it
// lapsed, the reserved credits go back to their organization and the claimed deliveries are
// free again, before their own delivery lease ends. Work of a handle that never took a lease
// is an orphan and is given back too.
func testLeasesReturnWhatLapsedOwnersHeld(t *testing.T, open Open) {
	ctx := context.Background()
	c := NewClock()
	dead, survivor, orphaner := open(t, c.Now), open(t, c.Now), open(t, c.Now)
	o, a := seed(t, survivor, 5)
	if _, err := survivor.CreateDestination(ctx, facematch.Destination{AppID: a.ID, Label: "h", URL: "https://example.com/h",
		SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := save(t, survivor, o, a, c.Now()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []facematch.Store{dead, survivor} {
		if err := s.RenewLease(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	held, err := dead.ReserveCredit(ctx, o.ID, requestID())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := survivor.ReserveCredit(ctx, o.ID, requestID())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dead.ClaimDeliveries(ctx, 10, 10*time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("claimed %d, %v", len(got), err)
	}
	if credits, deliveries, err := survivor.ReclaimLapsed(ctx); err != nil || credits != 0 || deliveries != 0 {
		t.Fatalf("reclaimed %d credits and %d deliveries of live leases (%v)", credits, deliveries, err)
	}
	if b := balance(t, survivor, o.ID); b != 2 {
		t.Fatalf("balance %d, want 2", b)
	}
	// The survivor renews its lease, the dead one does not.
	c.Add(20 * time.Second)
	if err := survivor.RenewLease(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Add(15 * time.Second)
	credits, deliveries, err := survivor.ReclaimLapsed(ctx)
	if err != nil || credits != 1 || deliveries != 1 {
		t.Fatalf("reclaimed %d credits and %d deliveries (%v), want 1 and 1", credits, deliveries, err)
	}
	if b := balance(t, survivor, o.ID); b != 3 {
		t.Fatalf("balance %d, want 3", b)
	}
	if got, err := survivor.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("the dead server's delivery: claimed %d, %v", len(got), err)
	}
	if err := dead.ConsumeCredit(ctx, held); err == nil {
		t.Fatal("a reclaimed reservation was consumed")
	}
	if err := dead.ReleaseCredit(ctx, held); err != nil {
		t.Fatal(err)
	}
	if err := survivor.ConsumeCredit(ctx, kept); err != nil {
		t.Fatalf("the survivor's own reservation: %v", err)
	}
	// A reservation of a handle without a lease has no live owner.
	if _, err := orphaner.ReserveCredit(ctx, o.ID, requestID()); err != nil {
		t.Fatal(err)
	}
	if credits, _, err := survivor.ReclaimLapsed(ctx); err != nil || credits != 1 {
		t.Fatalf("reclaimed %d credits of a handle without a lease (%v), want 1", credits, err)
	}
	if err := survivor.EndLease(ctx); err != nil {
		t.Fatal(err)
	}
	if b := balance(t, survivor, o.ID); b != 3 {
		t.Fatalf("balance %d, want 3", b)
	}
}

// [FM-SCALE-2] The deployment's secrets (the media-URL signing key) are the same for every
// handle, created once even when asked for at once.
func testSecretSharedByHandles(t *testing.T, open Open) {
	handles := []facematch.Store{open(t, time.Now), open(t, time.Now)}
	got := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := handles[i%2].Secret(context.Background(), "media-url-signing")
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if len(v) != 32 || string(v) != string(got[0]) {
			t.Fatalf("secrets differ: %x", got)
		}
	}
	if other, _ := handles[0].Secret(context.Background(), "other"); string(other) == string(got[0]) {
		t.Fatal("two secrets are the same")
	}
}
