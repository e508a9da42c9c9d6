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
	"strings"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/matcher"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/webhook"
)

// serve runs the API until ctx ends (SIGINT or SIGTERM in main), then stops accepting
// connections and lets the requests in flight finish.
func serve(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "serve")
	addr := f.str("addr", "127.0.0.1:8080", "address to listen on")
	store := f.store()
	data := store.data
	replicaLease := f.duration("replica-lease", 30*time.Second, "how long the credits and deliveries a server holds stay its own after it stops renewing (it died); then other servers give them back")
	models := f.models()
	workers := f.workers()
	allowPrivate := f.boolean("allow-private-webhooks", false, "let webhook destinations resolve to private and loopback addresses (development, tests)")
	backoffFlag := f.str("webhook-backoff", "1m,4m,16m,64m", "delays before each retry of a webhook delivery")
	webhookWorkers := f.integer("webhook-workers", 8, "webhook deliveries attempted at once")
	writeLimit := f.integer("write-limit", server.DefaultWriteLimit, "POST/PATCH/DELETE requests per key per window")
	readLimit := f.integer("read-limit", server.DefaultReadLimit, "GET requests per key per window")
	window := f.duration("rate-window", server.DefaultWindow, "the sliding window of the rate limits")
	mediaTTL := f.duration("media-url-ttl", server.DefaultMediaTTL, "how long a signed image URL works")
	publicURL := f.str("public-url", "", "scheme and host that image URLs start with (default: the request's)")
	maxInFlight := f.integer("max-inflight", server.DefaultMaxInFlight, "requests whose bodies are held in memory at once; more wait their turn")
	shutdown := f.duration("shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish on shutdown")
	cpuProfile := f.str("cpu-profile", "", "write a CPU profile of the whole run to this file (for performance work)")
	demo := f.boolean("demo", false, "on first start, create a demo organization with 100 credits, a live and a sandbox key, and print them")
	if err := f.parse(args); err != nil {
		return err
	}
	backoff, err := webhook.ParseBackoff(*backoffFlag)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	logger := slog.New(slog.NewJSONHandler(c.stderr, nil))
	// Requests allocate their bodies (up to 11.5 MB each) and little that lives on: collecting
	// at twice the default heap growth halves the collector's share of a sandbox request's CPU
	// (measured in docs/performance.md); --max-inflight bounds what the heap can hold.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}

	db, closeStore, err := openServeStore(ctx, store, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	endLease, err := holdLease(ctx, db, *replicaLease, logger)
	if err != nil {
		return err
	}
	// The lease ends after the requests and deliveries under way (deferred later, run earlier).
	defer endLease()

	metrics := server.NewMetrics(nil)
	m, err := matcher.New(matcher.Config{Models: *models, Workers: *workers, Observe: metrics.ObserveStage})
	if err != nil {
		return err
	}
	defer m.Close()
	sb, err := sandbox.New()
	if err != nil {
		return err
	}
	guard := &webhook.Guard{AllowPrivate: *allowPrivate}
	dispatcher := &webhook.Dispatcher{
		Store: db, Guard: guard, Backoff: backoff, Concurrency: *webhookWorkers, Logger: logger, Observe: metrics.ObserveWebhook,
	}
	srv, err := server.New(ctx, server.Config{
		Store: db, Matcher: m, Sandbox: sb, Metrics: metrics, Logger: logger, Guard: guard, Notify: dispatcher.Notify,
		WriteLimit: *writeLimit, ReadLimit: *readLimit, Window: *window, MediaTTL: *mediaTTL,
		PublicURL: strings.TrimRight(*publicURL, "/"), MaxInFlight: *maxInFlight,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *demo {
		if err := seedDemo(ctx, db, *data, "http://"+ln.Addr().String(), c.getenv, c.stdout); err != nil {
			ln.Close()
			return err
		}
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()), slog.Int("workers", m.Workers()), slog.String("blas", matcher.BLASCore()), slog.String("data", *data))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	// Deliveries go on while the server drains, and stop after it: whatever is still pending
	// is in the outbox and resumes at the next start.
	dctx, stopDeliveries := context.WithCancel(context.WithoutCancel(ctx))
	delivered := make(chan struct{})
	go func() { dispatcher.Run(dctx); close(delivered) }()
	defer func() { stopDeliveries(); <-delivered }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight", slog.Duration("timeout", *shutdown))
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func (f *flags) duration(name string, def time.Duration, help string) *time.Duration {
	if v, err := time.ParseDuration(f.getenv(envName(name))); err == nil {
		def = v
	}
	return f.Duration(name, def, help+" (env "+envName(name)+")")
}

// demoKeys is what seedDemo keeps in the data folder so that later starts can show the keys
// again: demo keys only, never a real one.
type demoKeys struct {
	Org        string `json:"org"`
	LiveKey    string `json:"live_key"`
	SandboxKey string `json:"sandbox_key"`
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

Compare two photos with the live key:
  curl -s -H 'x-api-key: %s' \
    -F user_image=@%s/barack_obama/obama.jpg \
    -F ref_image=@%s/barack_obama/obama2.jpg \
    %s/v3/face-match/

`, org.Name, org.ID, org.Credits, path, keys.LiveKey, keys.SandboxKey, keys.LiveKey, faces, faces, baseURL)
	return nil
}

// sharedDir is the shared fixtures folder as the demo's curl should name it.
func sharedDir(getenv Env) string {
	if d := getenv("FACEMATCH_SHARED"); d != "" {
		return d
	}
	return "../shared"
}
