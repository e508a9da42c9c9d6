package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/console"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/matcher"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/sqlite"
	"github.com/facematch/facematch/webhook"
)

var (
	matcherOnce sync.Once
	theMatcher  *matcher.Matcher
	matcherErr  error
)

// realMatcher loads the real dlib matcher once (models from `make models`).
func realMatcher(t testing.TB) *matcher.Matcher {
	t.Helper()
	matcherOnce.Do(func() {
		theMatcher, matcherErr = matcher.New(matcher.Config{Models: filepath.Join(shared.RepoRoot(), "models"), Workers: 2})
	})
	if matcherErr != nil {
		t.Fatalf("%v (run `make models`)", matcherErr)
	}
	return theMatcher
}

// env is what `facematch serve` runs: the API and the console on one SQLite store, the real
// matcher, the webhook dispatcher, over real HTTP.
type env struct {
	t     testing.TB
	db    *sqlite.DB
	srv   *httptest.Server
	clock *clock
	// handler is what srv serves: the console mounted beside the API.
	handler http.Handler
	dir     string // the data folder
}

// clock is a time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newEnv(t testing.TB, m facematch.Matcher) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Now().UTC()}
	db.Now = clk.Now
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	sb, err := sandbox.New()
	if err != nil {
		t.Fatal(err)
	}
	guard := &webhook.Guard{AllowPrivate: true}
	dispatcher := &webhook.Dispatcher{Store: db, Guard: guard, Backoff: []time.Duration{time.Minute}, Poll: 50 * time.Millisecond, Logger: logger, Now: clk.Now}
	dctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { dispatcher.Run(dctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	srv, err := server.New(ctx, server.Config{Store: db, Matcher: m, Sandbox: sb, Logger: logger, Guard: guard, Notify: dispatcher.Notify, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Config{Store: db, MediaURL: srv.MediaURL, CheckURL: guard.CheckURL, Notify: dispatcher.Notify, Logger: logger, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := console.Mount(con, srv)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{t: t, db: db, srv: hs, clock: clk, handler: h, dir: dir}
}

// tenant is an organization with a live application, its key and a console account.
type tenant struct {
	org      facematch.Organization
	app      facematch.Application
	key      string
	email    string
	password string
}

func (e *env) tenant(name string, credits int64, admin bool) tenant {
	e.t.Helper()
	ctx := context.Background()
	o, err := e.db.CreateOrganization(ctx, name, credits)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.db.CreateApplication(ctx, o.ID, name+"-web", facematch.ModeLive)
	if err != nil {
		e.t.Fatal(err)
	}
	id, secret, full := facematch.NewAPIKey(a.Mode)
	if _, err := e.db.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: a.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		e.t.Fatal(err)
	}
	tn := tenant{org: o, app: a, key: full, email: name + "@example.com", password: console.NewPassword()}
	hash, err := console.HashPassword(tn.password)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.CreateAccount(ctx, facematch.Account{OrgID: o.ID, Email: tn.email, Admin: admin, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// faceMatch saves a live call of two shared photos through the API and returns its id.
func (e *env) faceMatch(key, user, ref string, fields ...string) string {
	e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range []struct{ field, rel string }{{"user_image", user}, {"ref_image", ref}} {
		p, _ := w.CreateFormFile(f.field, filepath.Base(f.rel))
		p.Write(shared.Read(e.t, "fixtures", "faces", f.rel))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		w.WriteField(fields[i], fields[i+1])
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v3/face-match/", &buf)
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("face-match: %d %s", res.StatusCode, body)
	}
	var out struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal(body, &out)
	return out.RequestID
}

// apiStatus is the status of a GET of the API with a key.
func (e *env) apiStatus(key, path string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("x-api-key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
