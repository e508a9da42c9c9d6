package load

import (
	"context"
	"image"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/testimg"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/sqlite"
)

// approve is a matcher that approves every pair at once: the engine is tested, not dlib.
type approve struct{}

func (approve) Match(context.Context, facematch.MatchInput) (facematch.FaceMatch, error) {
	score := 99.0
	return facematch.FaceMatch{
		Status: facematch.StatusApproved, Score: &score, Warnings: []facematch.Warning{},
		User: facematch.ImageResult{Entities: []facematch.Entity{}}, Ref: facematch.ImageResult{Entities: []facematch.Entity{}},
	}, nil
}

// testServer is the API on a temp SQLite store with a live and a sandbox key.
func testServer(t *testing.T) (url, live, sbx string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sb, err := sandbox.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{
		Store: db, Matcher: approve{}, Sandbox: sb, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		WriteLimit: 1e9, ReadLimit: 1e9,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	org, err := db.CreateOrganization(ctx, "load", 1e9)
	if err != nil {
		t.Fatal(err)
	}
	key := func(mode facematch.Mode) string {
		app, err := db.CreateApplication(ctx, org.ID, "load", mode)
		if err != nil {
			t.Fatal(err)
		}
		id, secret, full := facematch.NewAPIKey(mode)
		if _, err := db.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: app.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
			t.Fatal(err)
		}
		return full
	}
	return hs.URL, key(facematch.ModeLive), key(facematch.ModeSandbox)
}

// testImages are two small pictures (the matcher above never looks at them).
func testImages(t *testing.T) []Image {
	src := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	return []Image{{"a.jpg", testimg.Encode(t, src, "jpeg")}, {"b.png", testimg.Encode(t, src, "png")}}
}

// The engine drives every route for its duration, saves sessions and asks for their decisions,
// and reports percentiles, throughput and statuses without a 5xx.
func TestRunMixedForADuration(t *testing.T) {
	url, live, sbx := testServer(t)
	var results atomic.Int64
	rep, err := Run(context.Background(), Config{
		URL: url, LiveKey: live, SandboxKey: sbx, Concurrency: 4, Duration: 2 * time.Second,
		Mix: Mix{Sandbox: 60, Live: 20, Decision: 20}, Images: testImages(t),
		OnResult: func(Result) { results.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	// The run ends by itself once its duration is over, never before it: no bound on how much
	// later, since that is the machine's speed, not the tool's behaviour.
	if rep.Failed() || rep.Elapsed < 2*time.Second {
		t.Fatalf("failed %v, elapsed %v", rep.Failed(), rep.Elapsed)
	}
	for _, r := range Routes {
		s := rep.Routes[r]
		if s.Requests == 0 || s.Statuses[http.StatusOK] != s.Requests || s.P50 <= 0 || s.P50 > s.P95 || s.P95 > s.P99 {
			t.Errorf("%s: %+v", r, s)
		}
	}
	if int64(rep.Total.Requests) != results.Load() || rep.ServerErrors() != 0 {
		t.Fatalf("%d requests, %d results", rep.Total.Requests, results.Load())
	}
}

// A request count bounds a run exactly; a run without any bound does not start; a remote
// address is refused unless allowed.
func TestRunBounds(t *testing.T) {
	url, _, sbx := testServer(t)
	cfg := Config{URL: url, SandboxKey: sbx, Concurrency: 3, Requests: 25, Mix: Mix{Sandbox: 1}, Images: testImages(t)}
	rep, err := Run(context.Background(), cfg)
	if err != nil || rep.Total.Requests != 25 || rep.Total.Statuses[http.StatusOK] != 25 {
		t.Fatalf("%v %+v", err, rep.Total)
	}
	cfg.Requests = 0
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "stop by itself") {
		t.Fatalf("unbounded run: %v", err)
	}
	cfg.Requests, cfg.URL = 1, "http://192.0.2.1:8080"
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("remote run: %v", err)
	}
	for _, ok := range []string{"http://127.0.0.1:1", "http://[::1]:1", "http://localhost:1"} {
		if err := CheckLoopback(context.Background(), ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := ParseMix("sandbox=60,live=x"); err == nil {
		t.Fatal("bad mix accepted")
	}
	if m, err := ParseMix("sandbox=60,live=20,decision=20"); err != nil || m[Decision] != 20 {
		t.Fatal(m, err)
	}
}

// A 503 with Retry-After is the server shedding load: it is counted apart, is not a failure,
// and its client waits as told before its next request; a 503 without it is a failure.
func TestRefusalsWithRetryAfter(t *testing.T) {
	var calls atomic.Int64
	unavailable := func(retryAfter string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	rep, err := Run(context.Background(), Config{
		URL: unavailable("1"), LiveKey: "k", Concurrency: 2, Duration: 2500 * time.Millisecond, Mix: Mix{Live: 1}, Images: testImages(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two clients each waiting a second after every refusal make at most three calls each.
	if rep.Refused != rep.Total.Requests || rep.Failed() || rep.ServerErrors() != 0 || calls.Load() > 6 {
		t.Fatalf("refused %d of %d, failed %v, %d calls", rep.Refused, rep.Total.Requests, rep.Failed(), calls.Load())
	}
	var out strings.Builder
	rep.Print(&out)
	if !strings.Contains(out.String(), "refused with 503 and Retry-After") {
		t.Fatalf("report:\n%s", out.String())
	}
	rep, err = Run(context.Background(), Config{
		URL: unavailable(""), LiveKey: "k", Concurrency: 1, Requests: 2, Mix: Mix{Live: 1}, Images: testImages(t),
	})
	if err != nil || rep.Refused != 0 || !rep.Failed() {
		t.Fatalf("a plain 503: %v, refused %d, failed %v", err, rep.Refused, rep.Failed())
	}
}

// PeakRSS reads a process's high-water mark of resident memory.
func TestPeakRSS(t *testing.T) {
	peak, err := PeakRSS(os.Getpid())
	if err != nil || peak < 1<<20 {
		t.Fatalf("peak %d, %v", peak, err)
	}
	if _, err := PeakRSS(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
