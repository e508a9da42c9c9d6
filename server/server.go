// Package server is the HTTP face of the Face Match API: routing (routes.go lists the whole
// surface), middleware for request ids, keys, rate limits and validation against openapi.yaml,
// handlers closing over what they need, and the one table that turns domain errors into answers.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"golang.org/x/sync/semaphore"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/webhook"
)

// Defaults of the limits of spec sections 2 and 4.
const (
	DefaultWriteLimit = 300
	DefaultReadLimit  = 600
	DefaultWindow     = time.Minute
	DefaultMediaTTL   = time.Hour
	// DefaultMaxInFlight bodies of at most 11.5 MB each (two 5 MiB images and the fields).
	DefaultMaxInFlight = 16
	// DefaultBodyMemory is the default of Config.BodyMemory: 48 MiB, four of the largest bodies
	// or about 270 of the load tool's pairs (docs/scaling.md).
	DefaultBodyMemory = 48 << 20
	// MaxBodyBytes bounds a request body: two images of MaxImageBytes and room for the other
	// fields.
	MaxBodyBytes = 2*MaxImageBytes + 1<<20
)

// Config is what a Server is made of.
type Config struct {
	Store facematch.Store
	// Matcher compares the faces of live calls. Nil makes a sandbox-only server (serve
	// --sandbox-only): live keys get a 503 that says so.
	Matcher facematch.Matcher
	Sandbox *sandbox.Responder
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock; tests move it.
	Now func() time.Time
	// WriteLimit and ReadLimit are the per-key budgets of POST/PATCH/DELETE and of GET requests
	// in each sliding Window.
	WriteLimit, ReadLimit int
	Window                time.Duration
	// MediaTTL is how long a signed image URL works.
	MediaTTL time.Duration
	// PublicURL is the scheme and host image URLs start with; empty means the request's own.
	PublicURL string
	// Ready reports whether the service can answer (store open, models loaded).
	Ready func(context.Context) error
	// Guard checks webhook destination URLs (FM-WH-5).
	Guard *webhook.Guard
	// Notify, when set, is called after a saved session queued webhook deliveries.
	Notify func()
	// MaxInFlight bounds the requests whose bodies are held in memory at once.
	MaxInFlight int
	// BodyMemory bounds the bytes of the bodies held in memory at once, and of the forms read
	// from them: a request reserves its Content-Length (MaxBodyBytes when it declares none)
	// before its body is read, and gives it back once answered; the others wait their turn.
	// 0 means DefaultBodyMemory; it is raised to MaxBodyBytes if lower.
	BodyMemory int64
	// MaxLive bounds the live face-match calls held at once, waiting or matching: the matcher's
	// workers plus the places to wait for one (serve --live-queue). A live call past it is
	// answered 503 with Retry-After before its body is read. 0 means no bound.
	MaxLive int
	// MetricsElsewhere leaves /metrics off the API's port: the caller serves Metrics.Handler on
	// a listener of its own (serve --metrics-addr).
	MetricsElsewhere bool
}

// Server serves the API.
type Server struct {
	cfg      Config
	handler  http.Handler
	oaRouter routers.Router
	mediaKey []byte
	bodies   chan struct{} // one token per body held in memory
	bodyMem  *semaphore.Weighted
	live     *liveAdmission // nil when Config.MaxLive is 0
}

// New builds a Server: it loads the embedded OpenAPI document and the deployment's key for
// signing image URLs.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WriteLimit <= 0 {
		cfg.WriteLimit = DefaultWriteLimit
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MediaTTL <= 0 {
		cfg.MediaTTL = DefaultMediaTTL
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Guard == nil {
		cfg.Guard = &webhook.Guard{}
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.BodyMemory <= 0 {
		cfg.BodyMemory = DefaultBodyMemory
	}
	cfg.BodyMemory = max(cfg.BodyMemory, MaxBodyBytes)
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.Store.Ping
	}
	doc, err := contract.Load()
	if err != nil {
		return nil, err
	}
	oaRouter, err := openAPIRouter(doc)
	if err != nil {
		return nil, err
	}
	key, err := cfg.Store.Secret(ctx, "media-url-signing")
	if err != nil {
		return nil, fmt.Errorf("media signing key: %w", err)
	}
	s := &Server{cfg: cfg, oaRouter: oaRouter, mediaKey: key, bodies: make(chan struct{}, cfg.MaxInFlight),
		bodyMem: semaphore.NewWeighted(cfg.BodyMemory)}
	if cfg.MaxLive > 0 {
		s.live = newLiveAdmission(cfg.MaxLive)
	}
	s.handler = s.routes()
	return s, nil
}

// openAPIRouter matches requests to the document's operations on any host: the document names
// the default address, but the server listens wherever it is told. The operations' security
// requirements are dropped from this copy: the authenticate middleware enforces the x-api-key
// scheme before validation, and kin-openapi would otherwise read and copy every body once more
// to offer it to an authentication function.
func openAPIRouter(doc *openapi3.T) (routers.Router, error) {
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			op.Security = &openapi3.SecurityRequirements{}
		}
	}
	return gorillamux.NewRouter(doc)
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) now() time.Time { return s.cfg.Now() }
