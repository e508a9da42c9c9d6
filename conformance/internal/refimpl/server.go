package refimpl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is how the reference runs.
type Config struct {
	Data           string          // the folder of state.json and blobs/
	Backend        string          // base URL of the real facematch server that compares faces
	BackendKey     string          // a live key of the backend with plenty of credits
	AllowPrivate   bool            // accept private and loopback webhook addresses
	Backoff        []time.Duration // webhook retry delays
	MediaTTL       time.Duration   // lifetime of image URLs
	WriteLimit     int             // per key and minute
	ReadLimit      int             // per key and minute
	Faults         map[Fault]bool  // injected faults
	AttemptTimeout time.Duration   // how long a webhook attempt may take
}

// Server is the reference implementation's HTTP API.
type Server struct {
	cfg     Config
	st      *store
	limiter *limiter
	backend *http.Client
	hooks   *http.Client
	wake    chan struct{}
	mu      sync.Mutex // serializes the non-atomic billing of the bill-race fault
}

// New opens the state in cfg.Data and starts the webhook worker, which stops with ctx.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.WriteLimit == 0 {
		cfg.WriteLimit = 300
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = 600
	}
	if cfg.MediaTTL == 0 {
		cfg.MediaTTL = time.Hour
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Minute, 4 * time.Minute, 16 * time.Minute, 64 * time.Minute}
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = 10 * time.Second
	}
	if cfg.Faults == nil {
		cfg.Faults = map[Fault]bool{}
	}
	st, err := openStore(cfg.Data)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: st, limiter: newLimiter(), backend: &http.Client{Timeout: 2 * time.Minute}, wake: make(chan struct{}, 1)}
	s.hooks = s.hookClient()
	go s.deliverLoop(ctx)
	return s, nil
}

func (s *Server) fault(f Fault) bool { return s.cfg.Faults[f] }

// caller is the key of a request and what it belongs to.
type caller struct {
	keyHash string
	key     *keyRecord
	app     *app
	org     *org
}

const (
	permissionDenied = `{"detail": "You do not have permission to perform this action."}`
	notFoundBody     = `{"detail": "Not found."}`
	notEnoughCredits = `{"detail": "You do not have enough credits to perform this action.", "error": "not-enough-credits"}`
)

// ServeHTTP routes the API: /v3/ behind the key and the rate limit, the image URLs, the probes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		writeRaw(w, http.StatusOK, `{"ok": true}`)
		return
	case strings.HasPrefix(r.URL.Path, "/blob/"):
		s.serveBlob(w, r)
		return
	case !strings.HasPrefix(r.URL.Path, "/v3/"):
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	c, ok := s.authenticate(r)
	if !ok {
		if len(r.Header.Values("x-api-key")) == 0 && s.fault(FaultMissingKey401) {
			writeRaw(w, http.StatusUnauthorized, `{"detail": "Authentication credentials were not provided."}`)
			return
		}
		writeRaw(w, http.StatusForbidden, permissionDenied)
		return
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if s.fault(FaultSharedBudget) {
		write = true
	}
	if s.fault(FaultValidateFirst) && r.Method == http.MethodPost && r.URL.Path == "/v3/face-match/" {
		// The fault: the request is validated before the rate limit is looked at.
		if _, errs := s.parseFaceMatch(w, r); errs != nil {
			s.limiter.headers(w, c.keyHash, write, s.limits(write))
			writeJSON(w, http.StatusBadRequest, errs)
			return
		}
	}
	limit := s.limits(write)
	if retry, ok := s.limiter.take(c.keyHash, write, limit); !ok {
		s.limiter.headers(w, c.keyHash, write, limit)
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"detail": fmt.Sprintf("Request was throttled. Expected available in %d seconds.", retry)})
		return
	}
	if !s.fault(FaultNoHeadersOnErrors) {
		s.limiter.headers(w, c.keyHash, write, limit)
	}
	hw := &headerOnSuccess{ResponseWriter: w, s: s, key: c.keyHash, write: write, limit: limit}
	s.route(hw, r, c)
}

// headerOnSuccess adds the rate-limit headers to 2xx answers only, for FaultNoHeadersOnErrors.
type headerOnSuccess struct {
	http.ResponseWriter
	s     *Server
	key   string
	write bool
	limit int
}

// WriteHeader adds the headers to a 2xx answer before its status goes out.
func (h *headerOnSuccess) WriteHeader(code int) {
	if h.s.fault(FaultNoHeadersOnErrors) && code < 300 {
		h.s.limiter.headers(h.ResponseWriter, h.key, h.write, h.limit)
	}
	h.ResponseWriter.WriteHeader(code)
}

func (s *Server) limits(write bool) int {
	if write {
		return s.cfg.WriteLimit
	}
	return s.cfg.ReadLimit
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, c caller) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v3, ...
	method := func(allowed ...string) bool {
		for _, m := range allowed {
			if r.Method == m {
				return true
			}
		}
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": fmt.Sprintf("Method %q not allowed.", r.Method)})
		return false
	}
	switch {
	case len(parts) == 2 && parts[1] == "face-match":
		if method(http.MethodPost) {
			s.faceMatch(w, r, c)
		}
	case len(parts) == 2 && parts[1] == "sessions":
		if method(http.MethodGet) {
			s.listSessions(w, r, c)
		}
	case len(parts) == 4 && parts[1] == "session" && parts[3] == "decision":
		if method(http.MethodGet) {
			s.getDecision(w, r, c, parts[2])
		}
	case len(parts) == 4 && parts[1] == "session" && parts[3] == "delete":
		if method(http.MethodDelete) {
			s.deleteSession(w, c, parts[2])
		}
	case len(parts) == 3 && parts[1] == "webhook" && parts[2] == "destinations":
		switch r.Method {
		case http.MethodGet:
			s.listDestinations(w, c)
		case http.MethodPost:
			s.createDestination(w, r, c)
		default:
			method()
		}
	case len(parts) == 4 && parts[1] == "webhook" && parts[2] == "destinations":
		switch r.Method {
		case http.MethodGet:
			s.getDestination(w, c, parts[3])
		case http.MethodPatch:
			s.patchDestination(w, r, c, parts[3])
		case http.MethodDelete:
			s.deleteDestination(w, c, parts[3])
		default:
			method()
		}
	default:
		writeRaw(w, http.StatusNotFound, notFoundBody)
	}
}

// authenticate finds the key by its hash: the reference never keeps a key itself.
func (s *Server) authenticate(r *http.Request) (caller, bool) {
	vals := r.Header.Values("x-api-key")
	if len(vals) != 1 || vals[0] == "" {
		return caller{}, false
	}
	h := hashKey(vals[0])
	var c caller
	ok := false
	s.st.view(func(st *state) {
		k := st.Keys[h]
		if k == nil || (k.Revoked && !s.fault(FaultRevokedAccepted)) {
			return
		}
		a := st.Apps[k.App]
		if a == nil {
			return
		}
		o := st.Orgs[a.Org]
		if o == nil {
			return
		}
		kc, ac, oc := *k, *a, *o
		c, ok = caller{keyHash: h, key: &kc, app: &ac, org: &oc}, true
	})
	return c, ok
}

func hashKey(k string) string {
	sum := sha256.Sum256([]byte("refimpl key\x00" + k))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, `{"detail": "A server error occurred."}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// timestamp is the contract's created_at format (FM-RESP-2).
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// limiter is a sliding-window log per key and budget.
type limiter struct {
	mu  sync.Mutex
	log map[string][]time.Time
}

func newLimiter() *limiter { return &limiter{log: map[string][]time.Time{}} }

const window = 60 * time.Second

func bucket(key string, write bool) string {
	if write {
		return "w:" + key
	}
	return "r:" + key
}

// take counts a request when the budget allows, else says in how many seconds it will.
func (l *limiter) take(key string, write bool, limit int) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := bucket(key, write)
	now := time.Now()
	log := l.prune(b, now)
	if len(log) >= limit {
		wait := log[0].Add(window).Sub(now)
		secs := int((wait + time.Second - 1) / time.Second)
		return min(max(secs, 1), 60), false
	}
	l.log[b] = append(log, now)
	return 0, true
}

func (l *limiter) prune(b string, now time.Time) []time.Time {
	log := l.log[b]
	i := 0
	for i < len(log) && now.Sub(log[i]) >= window {
		i++
	}
	log = log[i:]
	l.log[b] = log
	return log
}

// headers writes the X-RateLimit-* headers of a budget.
func (l *limiter) headers(w http.ResponseWriter, key string, write bool, limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	log := l.prune(bucket(key, write), now)
	reset := now.Add(window)
	if len(log) > 0 {
		reset = log[0].Add(window)
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-len(log), 0)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix()+1, 10))
}

// ListenAdmin serves the admin API on a Unix socket in the data folder (admin.sock): the admin
// commands of the reference's binary talk to the running server through it.
func (s *Server) ListenAdmin(ctx context.Context) error {
	path := filepath.Join(s.cfg.Data, "admin.sock")
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.admin)}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln)
	return nil
}

// admin runs one admin command: POST /{org-create|credits-add|app-create|key-create|key-revoke}
// with a JSON object of the command's flags.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name    string `json:"name"`
		Credits int64  `json:"credits"`
		Org     string `json:"org"`
		Amount  int64  `json:"amount"`
		App     string `json:"app"`
		Sandbox bool   `json:"sandbox"`
		ID      string `json:"id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var out any
	err := s.st.update(func(st *state) error {
		switch strings.Trim(r.URL.Path, "/") {
		case "org-create":
			if in.Name == "" {
				return errors.New("--name is required")
			}
			o := &org{ID: st.next("o-"), Name: in.Name, Credits: in.Credits}
			st.Orgs[o.ID] = o
			out = map[string]any{"id": o.ID, "name": o.Name, "credits": o.Credits}
		case "credits-add":
			o := st.Orgs[in.Org]
			if o == nil {
				return fmt.Errorf("no organization %q", in.Org)
			}
			o.Credits += in.Amount
			out = map[string]any{"org": o.ID, "credits": o.Credits}
		case "app-create":
			if st.Orgs[in.Org] == nil {
				return fmt.Errorf("no organization %q", in.Org)
			}
			a := &app{ID: st.next("a-"), Org: in.Org, Name: in.Name, Sandbox: in.Sandbox}
			st.Apps[a.ID] = a
			mode := "live"
			if a.Sandbox {
				mode = "sandbox"
			}
			out = map[string]any{"id": a.ID, "mode": mode}
		case "key-create":
			a := st.Apps[in.App]
			if a == nil {
				return fmt.Errorf("no application %q", in.App)
			}
			mode := "L"
			if a.Sandbox {
				mode = "S"
			}
			key := "ref" + mode + "." + randomHex(20)
			k := &keyRecord{ID: st.next("k-"), App: a.ID}
			st.Keys[hashKey(key)] = k
			out = map[string]any{"id": k.ID, "key": key}
		case "key-revoke":
			for _, k := range st.Keys {
				if k.ID == in.ID {
					k.Revoked = true
					out = map[string]any{"id": k.ID, "revoked": true}
					return nil
				}
			}
			return fmt.Errorf("no key %q", in.ID)
		default:
			return fmt.Errorf("unknown admin command %q", r.URL.Path)
		}
		return nil
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, out)
}
