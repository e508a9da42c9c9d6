// Package console is the web console of spec section 8, served by the same binary at /console/:
// server-rendered pages (html/template, embedded assets, no JavaScript, nothing fetched from
// elsewhere) where an organization's people log in, look at saved sessions with their images and
// webhook deliveries, and manage keys and destinations; admins manage organizations and credits.
// It reaches the store only through facematch.Console.
package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/facematch/facematch"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// Login limits of FM-CON-1.
const (
	MaxFailedLogins = 5
	FailureWindow   = 15 * time.Minute
	LockFor         = 15 * time.Minute
	// DefaultSessionTTL is how long a console login lasts.
	DefaultSessionTTL = 12 * time.Hour
)

// PageSize is the number of sessions on a page of the sessions list (FM-CON-2).
const PageSize = 50

// Config is what a Console is made of.
type Config struct {
	Store facematch.Console
	// MediaURL signs the URL of a session image under base (the API server's signer).
	MediaURL func(base, sessionID, kind string) string
	// PublicURL is the scheme and host image URLs start with; empty means the request's own.
	PublicURL string
	// CheckURL refuses webhook destination URLs the service may not reach (FM-WH-5).
	CheckURL func(ctx context.Context, rawURL string) error
	// Notify wakes the webhook dispatcher after a test event is queued.
	Notify func()
	Logger *slog.Logger
	// Now is the clock; tests move it.
	Now func() time.Time
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
}

// Console serves the console's pages.
type Console struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds a Console: it parses the embedded templates and lists the routes.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.MediaURL == nil {
		return nil, errors.New("console: a store and a media URL signer are needed")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	c := &Console{cfg: cfg, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[page] = t
	}
	c.routes()
	return c, nil
}

// routes lists every page and action of the console.
func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET /console/login", c.loginForm)
	m.HandleFunc("POST /console/login", c.login)
	m.Handle("POST /console/logout", c.authed(c.logout))

	m.Handle("GET /console/{$}", c.authed(c.overview))
	m.Handle("GET /console/sessions", c.authed(c.sessions))
	m.Handle("GET /console/sessions/{id}", c.authed(c.session))
	m.Handle("POST /console/sessions/{id}/delete", c.authed(c.deleteSession))
	m.Handle("GET /console/apps/{app}", c.authed(c.application))
	m.Handle("POST /console/apps/{app}/keys", c.authed(c.createKey))
	m.Handle("POST /console/apps/{app}/keys/{key}/revoke", c.authed(c.revokeKey))
	m.Handle("POST /console/apps/{app}/destinations", c.authed(c.createDestination))
	m.Handle("GET /console/apps/{app}/destinations/{dest}", c.authed(c.destination))
	m.Handle("POST /console/apps/{app}/destinations/{dest}/enabled", c.authed(c.setEnabled))
	m.Handle("POST /console/apps/{app}/destinations/{dest}/rotate", c.authed(c.rotateSecret))
	m.Handle("POST /console/apps/{app}/destinations/{dest}/test", c.authed(c.testEvent))
	m.Handle("GET /console/admin/organizations", c.authed(c.adminOnly(c.organizations)))
	m.Handle("POST /console/admin/organizations", c.authed(c.adminOnly(c.createOrganization)))
	m.Handle("POST /console/admin/organizations/{org}/credits", c.authed(c.adminOnly(c.addCredits)))
	m.Handle("GET /console/admin/audit", c.authed(c.adminOnly(c.audit)))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) { c.notFound(w, r) })
	c.mux = m
}

// ServeHTTP serves one console request. Every answer forbids framing and scripts, and is
// never cached by a shared cache.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' "+c.imageOrigin()+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.cfg.Logger.Error("console panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			http.Error(w, "A server error occurred.", http.StatusInternalServerError)
		}
	}()
	if r.URL.Path == "/console" {
		http.Redirect(w, r, Prefix, http.StatusFound)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	c.mux.ServeHTTP(sw, r)
	c.cfg.Logger.Info("console request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", sw.status), slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
}

// statusWriter remembers the status of an answer, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// imageOrigin is the origin of image URLs when it is not the console's own.
func (c *Console) imageOrigin() string {
	return c.cfg.PublicURL
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// Mount serves the console under /console and everything else with api.
func Mount(c *Console, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, Prefix) {
			c.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// viewer is the logged-in account of a request and its login.
type viewer struct {
	Account facematch.Account
	Login   facematch.Login
}

type viewerKey struct{}

func viewerOf(r *http.Request) viewer {
	v, _ := r.Context().Value(viewerKey{}).(viewer)
	return v
}

// cookieName is the console's session cookie.
const cookieName = "fm_console"

// hashToken is the stored form of a login token: it is random, so a plain SHA-256 suffices.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// authed lets through requests of a logged-in account; others go to the login page. A
// state-changing request must carry its login's CSRF token, or it is a 403 (FM-CON-1).
func (c *Console) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		if err != nil || ck.Value == "" {
			c.toLogin(w, r)
			return
		}
		login, acct, err := c.cfg.Store.LoginByToken(r.Context(), hashToken(ck.Value), c.cfg.Now())
		if facematch.ErrorCode(err) == facematch.ENOTFOUND {
			c.toLogin(w, r)
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(login.CSRF)) != 1 {
				c.forbidden(w, r, "This form has no valid CSRF token. Reload the page and try again.")
				return
			}
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, viewer{Account: acct, Login: login})))
	})
}

// adminOnly answers 404 to accounts that are not admins: the pages do not exist for them.
func (c *Console) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !viewerOf(r).Account.Admin {
			c.notFound(w, r)
			return
		}
		next(w, r)
	}
}

func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		c.forbidden(w, r, "You are not logged in.")
		return
	}
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// secure tells whether the client reached us over https, directly or through a proxy.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// baseURL is the scheme and host image URLs start with.
func (c *Console) baseURL(r *http.Request) string {
	if c.cfg.PublicURL != "" {
		return c.cfg.PublicURL
	}
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// page is what every template gets: the viewer, the page's title and its data.
type page struct {
	Title   string
	Viewer  *viewer
	CSRF    string
	Nav     string
	Flash   string
	Error   string
	Data    any
	OrgName string
}

// render writes a page with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		c.fail(w, r, fmt.Errorf("no template %q", name))
		return
	}
	if v, ok := r.Context().Value(viewerKey{}).(viewer); ok {
		p.Viewer = &v
		p.CSRF = v.Login.CSRF
	}
	var buf strings.Builder
	if err := t.Execute(&buf, p); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

// notFound is the answer for anything the account cannot see (FM-CON-5).
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Error: "There is nothing here, or it belongs to another organization."})
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	c.render(w, r, http.StatusForbidden, "error", page{Title: "Forbidden", Error: msg})
}

func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	c.render(w, r, http.StatusBadRequest, "error", page{Title: "Invalid request", Error: msg})
}

// fail answers an error: a domain error in its own words, anything else as a logged 500 that
// reveals nothing.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch facematch.ErrorCode(err) {
	case facematch.ENOTFOUND:
		c.notFound(w, r)
		return
	case facematch.EINVALID:
		c.badRequest(w, r, facematch.ErrorMessage(err))
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	c.cfg.Logger.Error("console error", slog.String("path", r.URL.Path), slog.String("op", facematch.ErrorOp(err)), slog.String("error", err.Error()))
	http.Error(w, "A server error occurred.", http.StatusInternalServerError)
}

// canSee tells whether the viewer may see an organization's things (FM-CON-5).
func canSee(v viewer, orgID string) bool {
	return v.Account.Admin || v.Account.OrgID == orgID
}

// app returns the {app} of the path when the viewer may see it.
func (c *Console) app(r *http.Request) (facematch.Application, error) {
	a, err := c.cfg.Store.Application(r.Context(), r.PathValue("app"))
	if err != nil {
		return a, err
	}
	if !canSee(viewerOf(r), a.OrgID) {
		return a, facematch.Errorf(facematch.ENOTFOUND, "not found")
	}
	return a, nil
}

// audit records an action of the viewer; a failure to record is logged, never hidden.
func (c *Console) record(r *http.Request, orgID, action, target, detail string) error {
	return c.cfg.Store.RecordAudit(r.Context(), facematch.AuditEntry{
		At: c.cfg.Now(), Actor: viewerOf(r).Account.Email, OrgID: orgID, Action: action, Target: target, Detail: detail,
	})
}
