package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/console"
	"github.com/facematch/facematch/matcher"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/webhook"
)

// serviceConfig is everything the service is built from: serve's flags and environment, parsed
// and checked.
type serviceConfig struct {
	// Store is where the data is: the SQLite folder of --data, or --database-url's PostgreSQL.
	Store  storeFlags
	Models string
	// ReplicaLease is how long what this server holds stays its own after it stops renewing.
	ReplicaLease time.Duration
	Workers      int
	// SandboxOnly builds the service without a matcher: no models are loaded, live keys get 503.
	SandboxOnly bool
	// SandboxKey, when set, is made a valid sandbox key on start (fm_sandbox_<id>_<secret>).
	SandboxKey           string
	AllowPrivateWebhooks bool
	WebhookBackoff       []time.Duration
	WebhookWorkers       int
	WriteLimit           int
	ReadLimit            int
	RateWindow           time.Duration
	MediaTTL             time.Duration
	PublicURL            string
	MaxInFlight          int
	// BodyMemory bounds the bytes of request bodies held at once (serve --body-memory).
	BodyMemory int64
	// LiveQueue is how many live calls may wait for a busy worker (serve --live-queue); the
	// server admits Workers + LiveQueue live calls at once.
	LiveQueue int
	// MetricsElsewhere leaves /metrics off the API's port (--metrics-addr serves it).
	MetricsElsewhere bool
}

// service is the wired API: the store, the matcher (nil in sandbox-only mode), the webhook
// dispatcher and the HTTP server, built in one place from a serviceConfig.
type service struct {
	store      facematch.Store
	closeStore func()
	endLease   func()
	matcher    *matcher.Matcher
	metrics    *server.Metrics
	dispatcher *webhook.Dispatcher
	server     *server.Server
	// handler serves the API and, under /console/, the console (spec section 8).
	handler http.Handler
}

// wire builds the service: it opens the store (on SQLite, holding the data folder's lock), takes
// the server's lease, makes --sandbox-key valid, loads the matcher unless sandbox-only, and
// builds the webhook dispatcher and the HTTP server. On error, whatever was opened is closed.
func wire(ctx context.Context, cfg serviceConfig, logger *slog.Logger) (_ *service, err error) {
	s := &service{metrics: server.NewMetrics(nil)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.store, s.closeStore, err = openServeStore(ctx, cfg.Store, logger); err != nil {
		return nil, err
	}
	if s.endLease, err = holdLease(ctx, s.store, cfg.ReplicaLease, logger); err != nil {
		return nil, err
	}
	if cfg.SandboxKey != "" {
		if err := ensureSandboxKey(ctx, s.store, cfg.SandboxKey); err != nil {
			return nil, err
		}
	}

	var m facematch.Matcher // a nil *matcher.Matcher must not become a non-nil interface
	maxLive := 0
	if !cfg.SandboxOnly {
		if s.matcher, err = matcher.New(matcher.Config{Models: cfg.Models, Workers: cfg.Workers, Observe: s.metrics.ObserveStage}); err != nil {
			return nil, err
		}
		m = s.matcher
		maxLive = s.matcher.Workers() + cfg.LiveQueue
	}
	sb, err := sandbox.New()
	if err != nil {
		return nil, err
	}
	guard := &webhook.Guard{AllowPrivate: cfg.AllowPrivateWebhooks}
	s.dispatcher = &webhook.Dispatcher{
		Store: s.store, Guard: guard, Backoff: cfg.WebhookBackoff, Concurrency: cfg.WebhookWorkers, Logger: logger, Observe: s.metrics.ObserveWebhook,
	}
	s.server, err = server.New(ctx, server.Config{
		Store: s.store, Matcher: m, Sandbox: sb, Metrics: s.metrics, Logger: logger, Guard: guard, Notify: s.dispatcher.Notify,
		WriteLimit: cfg.WriteLimit, ReadLimit: cfg.ReadLimit, Window: cfg.RateWindow, MediaTTL: cfg.MediaTTL,
		PublicURL: cfg.PublicURL, MaxInFlight: cfg.MaxInFlight, BodyMemory: cfg.BodyMemory, MaxLive: maxLive, MetricsElsewhere: cfg.MetricsElsewhere,
	})
	if err != nil {
		return nil, err
	}
	// The console beside the API, on the same store, image signer and webhook guard.
	con, err := console.New(console.Config{
		Store: s.store, MediaURL: s.server.MediaURL, PublicURL: cfg.PublicURL, CheckURL: guard.CheckURL,
		Notify: s.dispatcher.Notify, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.handler = console.Mount(con, s.server)
	return s, nil
}

// Close drops the lease (once the requests and deliveries under way have finished: call it
// last), closes the matcher and the store.
func (s *service) Close() {
	if s.endLease != nil {
		s.endLease()
	}
	if s.matcher != nil {
		s.matcher.Close()
	}
	if s.closeStore != nil {
		s.closeStore()
	}
}

// workers is how many recognizers the service runs: none without a matcher.
func (s *service) workers() int {
	if s.matcher == nil {
		return 0
	}
	return s.matcher.Workers()
}

// ensureSandboxKey makes key a valid sandbox key: on the first start on a store it creates a
// "Sandbox" organization and application holding it; on later starts it checks that the key is
// still there, unrevoked. A key id that another secret or a live application holds is refused.
func ensureSandboxKey(ctx context.Context, store facematch.Tenancy, key string) error {
	id, secret, ok := facematch.ParseAPIKey(key)
	if !ok {
		return fmt.Errorf("--sandbox-key: not a key")
	}
	check := func() (found bool, err error) {
		k, app, err := store.APIKey(ctx, id)
		if facematch.ErrorCode(err) == facematch.ENOTFOUND {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch {
		case app.Mode != facematch.ModeSandbox || !facematch.SecretMatches(k.SecretHash, secret):
			return true, fmt.Errorf("--sandbox-key: the key id %s belongs to another key in this store; choose another key", id)
		case k.RevokedAt != nil:
			return true, fmt.Errorf("--sandbox-key: the key %s was revoked on %s; choose another key", facematch.KeyPrefix(app.Mode, id), k.RevokedAt.Format(time.RFC3339))
		}
		return true, nil
	}
	if found, err := check(); found || err != nil {
		return err
	}
	org, err := store.CreateOrganization(ctx, "Sandbox", 0)
	if err != nil {
		return err
	}
	app, err := store.CreateApplication(ctx, org.ID, "sandbox", facematch.ModeSandbox)
	if err != nil {
		return err
	}
	if _, err := store.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: app.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		// Another process may have stored the same key meanwhile: then it is there.
		if found, cerr := check(); found && cerr == nil {
			return nil
		}
		return err
	}
	return nil
}

// parseSandboxKey checks the form of a sandbox key: fm_sandbox_<16 hex>_<64 hex>.
func parseSandboxKey(s string) (string, error) {
	if _, _, ok := facematch.ParseAPIKey(s); !ok || !strings.HasPrefix(s, "fm_sandbox_") {
		return "", fmt.Errorf("want a sandbox key fm_sandbox_<16 lowercase hex>_<64 lowercase hex>")
	}
	return s, nil
}
