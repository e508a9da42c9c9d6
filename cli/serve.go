package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/console"
	"github.com/facematch/facematch/matcher"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/webhook"
)

// serveOptions are serve's flags beyond what the service is built from.
type serveOptions struct {
	addr, metricsAddr string
	retention         time.Duration
	shutdown          time.Duration
	cpuProfile        string
	demo              bool
	memoryLimit       int64 // bytes; 0 is off
}

// serveFlags parses serve's command line and environment.
func serveFlags(c *cmdContext, args []string) (serviceConfig, serveOptions, error) {
	f := newFlags(c, "serve")
	var o serveOptions
	addr := custom(f, "addr", "127.0.0.1:8080", parseAddr, nil, "address to listen on")
	replicaLease := f.duration("replica-lease", 30*time.Second, time.Second, false, "how long the credits and deliveries a server holds stay its own after it stops renewing (it died); then other servers give them back")
	metricsAddr := custom(f, "metrics-addr", "", parseAddr, nil, "serve /metrics on this address instead of the API's (default: on the API's)")
	workers := f.workers()
	sandboxOnly := f.boolean("sandbox-only", false, "answer sandbox keys only: no models loaded, live keys get 503; starts in well under a second")
	sandboxKey := custom(f, "sandbox-key", "", parseSandboxKey, nil, "make this key (fm_sandbox_<16 hex>_<64 hex>) a valid sandbox key on start")
	allowPrivate := f.boolean("allow-private-webhooks", false, "let webhook destinations resolve to private and loopback addresses (development, tests)")
	backoff := custom(f, "webhook-backoff", []time.Duration{time.Minute, 4 * time.Minute, 16 * time.Minute, 64 * time.Minute}, webhook.ParseBackoff, showBackoff, "delays before each retry of a webhook delivery")
	webhookWorkers := f.integer("webhook-workers", 8, 1, "webhook deliveries attempted at once")
	writeLimit := f.integer("write-limit", server.DefaultWriteLimit, 1, "POST/PATCH/DELETE requests per key per window")
	readLimit := f.integer("read-limit", server.DefaultReadLimit, 1, "GET requests per key per window")
	window := f.duration("rate-window", server.DefaultWindow, time.Second, false, "the sliding window of the rate limits")
	mediaTTL := f.duration("media-url-ttl", server.DefaultMediaTTL, time.Second, false, "how long a signed image URL works")
	publicURL := custom(f, "public-url", "", parseBaseURL, nil, "scheme and host that image URLs start with (default: the request's)")
	maxInFlight := f.integer("max-inflight", server.DefaultMaxInFlight, 1, "requests whose bodies are held in memory at once; more wait their turn")
	bodyMemory := custom(f, "body-memory", int64(server.DefaultBodyMemory), parseBodyMemory, showSize, "bytes of request bodies (and the forms read from them) held at once, e.g. 48MiB; more wait their turn, unread")
	liveQueue := custom(f, "live-queue", -1, parseLiveQueue, showLiveQueue, "live face-match calls that may wait for a busy worker; more get 503 with Retry-After, unread and unbilled")
	memoryLimit := custom(f, "memory-limit", -1, parseSize, showSize, "soft limit of the Go heap (e.g. 256MiB, or off): the collector works harder near it; the models live outside it (see docs/scaling.md)")
	retention := f.duration("retention", 0, time.Minute, true, "delete saved sessions older than this, every hour, e.g. 30d (default: keep forever)")
	shutdown := f.duration("shutdown-timeout", 30*time.Second, 0, false, "how long requests in flight may take to finish on shutdown")
	cpuProfile := f.str("cpu-profile", "", "write a CPU profile of the whole run to this file (for performance work)")
	demo := f.boolean("demo", false, "on first start, create a demo organization with 100 credits, a live and a sandbox key, and print them")
	if err := f.parse(args); err != nil {
		return serviceConfig{}, o, err
	}
	o = serveOptions{addr: *addr, metricsAddr: *metricsAddr, retention: *retention, shutdown: *shutdown, cpuProfile: *cpuProfile, demo: *demo, memoryLimit: *memoryLimit}
	if *liveQueue < 0 {
		*liveQueue = defaultLiveQueue(*workers)
	}
	if o.memoryLimit < 0 {
		o.memoryLimit = defaultMemoryLimit(*workers)
	}
	return serviceConfig{
		Store: f.store(), Models: *f.models, ReplicaLease: *replicaLease, Workers: *workers, SandboxOnly: *sandboxOnly, SandboxKey: *sandboxKey,
		AllowPrivateWebhooks: *allowPrivate, WebhookBackoff: *backoff, WebhookWorkers: *webhookWorkers,
		WriteLimit: *writeLimit, ReadLimit: *readLimit, RateWindow: *window, MediaTTL: *mediaTTL,
		PublicURL: *publicURL, MaxInFlight: *maxInFlight, BodyMemory: *bodyMemory, LiveQueue: *liveQueue, MetricsElsewhere: *metricsAddr != "",
	}, o, nil
}

func showBackoff(d []time.Duration) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = showDuration(v)
	}
	return strings.Join(s, ",")
}

// serve runs the API until ctx ends (SIGINT or SIGTERM in main), then stops accepting
// connections and lets the requests in flight finish.
func serve(ctx context.Context, c *cmdContext, args []string) error {
	start := time.Now()
	cfg, o, err := serveFlags(c, args)
	if err != nil {
		return helped(err)
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	// Requests allocate their bodies (up to 11.5 MB each) and little that lives on: collecting
	// at twice the default heap growth halves the collector's share of a sandbox request's CPU
	// (measured in docs/performance.md); --max-inflight bounds what the heap can hold.
	if c.getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	// --memory-limit caps what that growth may reach: near the limit the collector runs as
	// often as it must, so a burst of live calls decoding images cannot triple the heap.
	if o.memoryLimit > 0 && c.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(o.memoryLimit)
	}
	logger := slog.New(slog.NewJSONHandler(c.stderr, nil))
	svc, err := wire(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()
	var purger facematch.Admin
	if o.retention > 0 {
		var ok bool
		if purger, ok = svc.store.(facematch.Admin); !ok {
			return errors.New("--retention: this store cannot purge sessions yet (it lacks facematch.Admin's methods)")
		}
	}

	listeners, servers, err := listen(o, svc, logger)
	if err != nil {
		return err
	}
	if o.demo {
		if err := seedDemo(ctx, svc.store, *cfg.Store.data, "http://"+listeners[0].Addr().String(), c.getenv, c.stdout); err != nil {
			for _, ln := range listeners {
				ln.Close()
			}
			return err
		}
	}
	attrs := []any{slog.String("addr", listeners[0].Addr().String()), slog.Int("workers", svc.workers()), slog.Bool("sandbox_only", cfg.SandboxOnly),
		slog.String("data", *cfg.Store.data), slog.Duration("startup", time.Since(start))}
	if len(listeners) > 1 {
		attrs = append(attrs, slog.String("metrics_addr", listeners[1].Addr().String()))
	}
	if svc.matcher != nil {
		attrs = append(attrs, slog.String("blas", matcher.BLASCore()))
	}
	logger.Info("listening", attrs...)
	served := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { served <- hs.Serve(listeners[i]) }()
	}
	// Deliveries and the retention purge go on while the server drains, and stop after it:
	// whatever is still pending is in the outbox and resumes at the next start.
	bctx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { svc.dispatcher.Run(bctx) })
	if purger != nil {
		background.Go(func() { purgeEveryHour(bctx, purger, o.retention, logger) })
	}
	defer func() { stopBackground(); background.Wait() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight", slog.Duration("timeout", o.shutdown))
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	logger.Info("stopped")
	return nil
}

// listen opens the API's listener and, with --metrics-addr, the metrics' own, each with its
// HTTP server.
func listen(o serveOptions, svc *service, logger *slog.Logger) ([]net.Listener, []*http.Server, error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, nil, err
	}
	if o.metricsAddr == "" {
		return []net.Listener{ln}, []*http.Server{newHTTPServer(svc.handler, logger)}, nil
	}
	mln, err := net.Listen("tcp", o.metricsAddr)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", svc.metrics.Handler())
	return []net.Listener{ln, mln}, []*http.Server{newHTTPServer(svc.handler, logger), newHTTPServer(mux, logger)}, nil
}

// newHTTPServer serves h with timeouts that bound what a slow or hostile client can hold.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// startCPUProfile profiles the whole run into path; stop writes it.
func startCPUProfile(path string) (stop func(), err error) {
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// purgeEveryHour deletes the sessions older than retention now and then every hour, until ctx
// ends (serve --retention).
func purgeEveryHour(ctx context.Context, store facematch.Admin, retention time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		before := time.Now().Add(-retention)
		n, err := store.PurgeSessions(ctx, before, "")
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("retention: purging sessions", slog.String("error", err.Error()))
		case n > 0:
			logger.Info("retention: purged sessions", slog.Int64("sessions", n), slog.Time("created_before", before.UTC()))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// demoKeys is what seedDemo keeps in the data folder so that later starts can show the keys
// again: demo keys only, never a real one.
type demoKeys struct {
	Org             string `json:"org"`
	LiveKey         string `json:"live_key"`
	SandboxKey      string `json:"sandbox_key"`
	ConsoleEmail    string `json:"console_email,omitempty"`
	ConsolePassword string `json:"console_password,omitempty"`
}

// seedDemo creates, on the first start on a data folder, a demo organization with 100
// credits, a live and a sandbox application with a key each, and prints the keys with a curl
// command that compares two photos of the shared fixtures.
func seedDemo(ctx context.Context, db facematch.Store, dataDir, baseURL string, getenv Env, out io.Writer) error {
	path := filepath.Join(dataDir, "demo-keys.json")
	var keys demoKeys
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &keys); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else {
		org, err := db.CreateOrganization(ctx, "Demo", 100)
		if err != nil {
			return err
		}
		keys.Org = org.ID
		for mode, key := range map[facematch.Mode]*string{facematch.ModeLive: &keys.LiveKey, facematch.ModeSandbox: &keys.SandboxKey} {
			app, err := db.CreateApplication(ctx, org.ID, "demo-"+string(mode), mode)
			if err != nil {
				return err
			}
			if _, *key, err = createKey(ctx, db, app.ID); err != nil {
				return err
			}
		}
	}
	// A console account for the demo organization (an admin, so that every page can be tried),
	// also on data folders seeded before the console existed.
	if keys.ConsoleEmail == "" {
		keys.ConsoleEmail, keys.ConsolePassword = "demo@example.com", console.NewPassword()
		hash, err := console.HashPassword(keys.ConsolePassword)
		if err != nil {
			return err
		}
		if _, err := db.CreateAccount(ctx, facematch.Account{OrgID: keys.Org, Email: keys.ConsoleEmail, Admin: true, PasswordHash: hash}); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(keys, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	org, err := db.Organization(ctx, keys.Org)
	if err != nil {
		return err
	}
	faces := filepath.Join(sharedDir(getenv), "fixtures", "faces")
	fmt.Fprintf(out, `
Demo organization %q (%s), %d credits left. Its keys (also in %s):
  live key:    %s
  sandbox key: %s

Console: %s/console/ (log in as %s, password %s)

Compare two photos with the live key:
  curl -s -H 'x-api-key: %s' \
    -F user_image=@%s/barack_obama/obama.jpg \
    -F ref_image=@%s/barack_obama/obama2.jpg \
    %s/v3/face-match/

`, org.Name, org.ID, org.Credits, path, keys.LiveKey, keys.SandboxKey, baseURL, keys.ConsoleEmail, keys.ConsolePassword, keys.LiveKey, faces, faces, baseURL)
	return nil
}

// sharedDir is the shared fixtures folder as the demo's curl should name it.
func sharedDir(getenv Env) string {
	if d := getenv("FACEMATCH_SHARED"); d != "" {
		return d
	}
	return "../shared"
}

// parseLiveQueue reads --live-queue: a whole number, 0 or more.
func parseLiveQueue(s string) (int, error) { return parseInt(s, 0) }

// showLiveQueue shows --live-queue's default, which follows --workers.
func showLiveQueue(n int) string {
	if n < 0 {
		return "twice --workers, at least 8"
	}
	return strconv.Itoa(n)
}

// defaultLiveQueue is --live-queue's default: twice the workers, so that a burst finds a place,
// and at least 8, the concurrent calls a client's test of its billing may send at once (the
// conformance suite's); each waiting call holds little more than its body (docs/scaling.md).
func defaultLiveQueue(workers int) int { return max(8, 2*workers) }

// defaultMemoryLimit is --memory-limit's default: 20 MiB of Go heap per worker (decoded photos,
// the age/gender network's activations), at least 40 MiB for the requests around them. With two
// workers under load the heap in use stays near 25 MB, and this limit keeps the peak resident
// memory under 400 MB (docs/scaling.md).
func defaultMemoryLimit(workers int) int64 { return max(40, 20*int64(workers)) << 20 }

// parseSize reads --memory-limit: a size of at least 32 MiB (see parseBytes), or "off" for none.
func parseSize(s string) (int64, error) {
	if s == "off" || s == "0" {
		return 0, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return 0, errors.New("want a size such as 256MiB or 1GiB, or off")
	}
	if n < 32<<20 {
		return 0, errors.New("want at least 32MiB, or off")
	}
	return n, nil
}

// parseBodyMemory reads --body-memory: a size of at least one of the largest bodies.
func parseBodyMemory(s string) (int64, error) {
	n, err := parseBytes(s)
	if err != nil {
		return 0, errors.New("want a size such as 48MiB")
	}
	if n < server.MaxBodyBytes {
		return 0, fmt.Errorf("want at least %d bytes (12MiB), the largest body a request may send", server.MaxBodyBytes)
	}
	return n, nil
}

// parseBytes reads a size in bytes: a whole number with an optional unit B, KiB, MiB or GiB (KB,
// MB and GB are read as the same powers of two).
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"KB", 10}, {"MB", 20}, {"GB", 30}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<62)>>shift {
		return 0, errors.New("not a size")
	}
	return n << shift, nil
}

// showSize shows a size in MiB, or off.
func showSize(n int64) string {
	if n < 0 {
		return "20MiB per worker, at least 40MiB"
	}
	if n == 0 {
		return "off"
	}
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
