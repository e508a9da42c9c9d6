package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/facematch/facematch/internal/shared"
)

// browser is a headless Debian chromium driven over the DevTools protocol. A missing chromium
// fails the test: the console's tests are worth nothing without a real browser.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no chromium on PATH: the console's browser tests need Debian's chromium package (apt-get install chromium, or `make setup`)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	shots := os.Getenv("FACEMATCH_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(shared.RepoRoot(), "build", "console-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, base: base, shots: shots}
}

// run runs actions, failing the test on an error.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// value runs an action that returns a value, failing the test on an error.
func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// cookies are the browser's cookies for the current page.
func (b *browser) cookies() []*network.Cookie {
	b.t.Helper()
	return value(b, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
		return res.Cookies, err
	})
}

// open navigates to a console path and returns the answer's HTTP status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("%s: %v", path, err)
	}
	return res.Status
}

// submit clicks a form's button and returns the answer's HTTP status.
func (b *browser) submit(sel string) int64 {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("submitting %s: %v", sel, err)
	}
	return res.Status
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(value(b, chromedp.Text(chromedp.CSS(sel))))
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	return value(b, chromedp.Evaluate[T](js))
}

// shot saves a full-page screenshot of the current page as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := value(b, chromedp.FullScreenshot(100))
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

// login logs in through the form.
func (b *browser) login(email, password string) int64 {
	b.t.Helper()
	if st := b.open("/console/login"); st != http.StatusOK {
		b.t.Fatalf("login page: %d", st)
	}
	b.run(
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
	)
	return b.submit(`.login button[type=submit]`)
}

// receiver is a webhook endpoint on loopback that answers 200 and keeps what it got.
type receiver struct {
	mu  sync.Mutex
	got []*http.Request
	raw [][]byte
	srv *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got, rc.raw = append(rc.got, r), append(rc.raw, body)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// [FM-CON-1] [FM-CON-2] [FM-CON-3] [FM-CON-4] [FM-CON-5] The console in a real browser: log in,
// the overview, the sessions list filtered by vendor_data, a session with both images loaded
// and the boxes drawn, keys created and revoked, a test webhook and its attempt, another
// organization's things answering 404, a form without its CSRF token answering 403, logging out,
// and the admin's organizations, credits and audit log.
func TestConsoleInBrowser(t *testing.T) {
	e := newEnv(t, realMatcher(t))
	acme := e.tenant("acme", 100, false)
	other := e.tenant("globex", 10, false)
	ops := e.tenant("ops", 0, true)
	// Saved over the past week, so that the overview's chart has several days.
	day := 24 * time.Hour
	e.clock.Add(-6 * day)
	e.faceMatch(acme.key, "joe_biden/biden.jpg", "barack_obama/obama.jpg", "vendor_data", "customer-7")
	e.clock.Add(3 * day)
	e.faceMatch(acme.key, "barack_obama/obama_small.jpg", "none/white.png", "vendor_data", "customer-42-retry")
	e.clock.Add(2 * day)
	e.faceMatch(acme.key, "joe_biden/biden2.jpg", "joe_biden/biden.jpg", "vendor_data", "customer-8")
	e.clock.Add(day)
	approved := e.faceMatch(acme.key, "barack_obama/obama.jpg", "barack_obama/obama2.jpg", "vendor_data", "customer-42", "metadata", `{"flow": "signup", "step": 2}`,
		"face_match_score_decline_threshold", "55.5")
	foreign := e.faceMatch(other.key, "barack_obama/obama.jpg", "barack_obama/obama2.jpg", "vendor_data", "customer-42")

	b := newBrowser(t, e.srv.URL)

	t.Run("FM-CON-1 login", func(t *testing.T) {
		if st := b.open("/console/"); st != http.StatusOK || !strings.Contains(b.text("h1"), "Log in") {
			t.Fatalf("an anonymous visit did not land on the login page (%d)", st)
		}
		b.shot("login")
		if st := b.login(acme.email, "wrong-password-123"); st != http.StatusUnauthorized || !strings.Contains(b.text("#login-error"), "Wrong email or password") {
			t.Fatalf("a wrong password: %d", st)
		}
		if st := b.login(acme.email, acme.password); st != http.StatusOK {
			t.Fatalf("logging in: %d", st)
		}
		found := false
		for _, c := range b.cookies() {
			if c.Name == "fm_console" {
				found = true
				if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Secure {
					t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over http", c)
				}
			}
		}
		if !found {
			t.Fatal("no session cookie")
		}
	})

	t.Run("FM-CON-4 overview", func(t *testing.T) {
		b.open("/console/")
		if got := b.text("#balance"); got != "96" {
			t.Fatalf("balance %q, want 96", got)
		}
		bars := eval[int](b, `document.querySelectorAll('#calls-chart rect').length`)
		if bars != 4 {
			t.Fatalf("%d bars in the chart, want one on each of the 4 days with calls", bars)
		}
		label := eval[string](b, `document.querySelector('#calls-chart').getAttribute('aria-label')`)
		if !strings.Contains(label, "2 Approved, 1 Declined, 1 no face") {
			t.Fatalf("chart %q", label)
		}
		b.shot("overview")
	})

	t.Run("FM-CON-2 sessions filtered by vendor_data", func(t *testing.T) {
		b.open("/console/sessions")
		if got := b.text("#session-count"); !strings.Contains(got, "of 4") {
			t.Fatalf("unfiltered: %q", got)
		}
		b.run(chromedp.SendKeys(chromedp.CSS(`input[name=vendor_data]`), "customer-42"))
		if st := b.submit(`.filters button[type=submit]`); st != http.StatusOK {
			t.Fatalf("filter: %d", st)
		}
		rows := eval[[]string](b, `Array.from(document.querySelectorAll('#sessions tbody td.vd')).map(td => td.textContent)`)
		if len(rows) != 1 || rows[0] != "customer-42" {
			t.Fatalf("rows %q, want only customer-42 (exact, not customer-42-retry)", rows)
		}
		b.shot("sessions-filtered")
		b.open("/console/sessions?search=customer-4")
		rows = eval[[]string](b, `Array.from(document.querySelectorAll('#sessions tbody td.vd')).map(td => td.textContent)`)
		if len(rows) != 2 {
			t.Fatalf("search rows %q", rows)
		}
		b.open("/console/sessions")
		b.shot("sessions")
	})

	t.Run("FM-CON-3 one session", func(t *testing.T) {
		b.open("/console/sessions?vendor_data=customer-42")
		b.submit(`#sessions tbody a`)
		loaded := false
		for range 50 {
			loaded = eval[bool](b, `(() => { const imgs = Array.from(document.querySelectorAll('img.face-image')); return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); })()`)
			if loaded {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !loaded {
			t.Fatal("the two images did not load")
		}
		compared := eval[int](b, `document.querySelectorAll('svg.boxes rect.face-box.compared').length`)
		boxes := eval[int](b, `document.querySelectorAll('svg.boxes rect.face-box').length`)
		if compared != 2 || boxes < 2 {
			t.Fatalf("%d boxes, %d marked as compared; want a compared face in each image", boxes, compared)
		}
		src := eval[string](b, `document.querySelector('img.face-image').getAttribute('src')`)
		if !strings.Contains(src, "/media/sessions/"+approved+"/target?") || !strings.Contains(src, "signature=") {
			t.Fatalf("image src %q is not the signed media URL", src)
		}
		if got := b.text("#status"); got != "Approved" {
			t.Fatalf("status %q", got)
		}
		if got := b.text("#threshold"); got != "55.50" {
			t.Fatalf("threshold %q, want the call's 55.5", got)
		}
		if got := b.text("#metadata"); !strings.Contains(got, `"flow": "signup"`) {
			t.Fatalf("metadata %q", got)
		}
		b.shot("session")
	})

	rc := newReceiver(t)
	t.Run("FM-CON-4 keys and a test webhook", func(t *testing.T) {
		if st := b.open("/console/apps/" + acme.app.ID); st != http.StatusOK {
			t.Fatalf("application page: %d", st)
		}
		if st := b.submit(`#create-key button`); st != http.StatusCreated {
			t.Fatalf("creating a key: %d", st)
		}
		key := b.text("#new-key code")
		if e.apiStatus(key, "/v3/sessions/") != http.StatusOK {
			t.Fatalf("the created key %q does not work", key)
		}
		b.shot("app-key-created")
		b.open("/console/apps/" + acme.app.ID)
		if strings.Contains(b.text("body"), key) {
			t.Fatal("the key is shown again")
		}
		id := strings.Split(key, "_")[2]
		if used := b.text(`tr[data-key="` + id + `"] td:nth-child(3)`); used == "never" {
			t.Fatal("the key's last use is not shown")
		}
		if st := b.submit(`tr[data-key="` + id + `"] button`); st != http.StatusOK {
			t.Fatalf("revoking: %d", st)
		}
		if e.apiStatus(key, "/v3/sessions/") != http.StatusForbidden {
			t.Fatal("a revoked key still works")
		}
		if got := b.text(`tr[data-key="` + id + `"] td:nth-child(4)`); !strings.Contains(got, "revoked") {
			t.Fatalf("state %q", got)
		}

		b.run(chromedp.SendKeys(chromedp.CSS(`#create-destination input[name=label]`), "crm"),
			chromedp.SendKeys(chromedp.CSS(`#create-destination input[name=url]`), rc.srv.URL+"/hooks"))
		if st := b.submit(`#create-destination button`); st != http.StatusCreated {
			t.Fatalf("creating a destination: %d", st)
		}
		secret := b.text("#new-secret code")
		b.submit(`#destinations tbody a`)
		if st := b.submit(`#send-test`); st != http.StatusOK {
			t.Fatalf("sending a test event: %d", st)
		}
		var log string
		for range 100 {
			b.open(strings.TrimPrefix(b.location(), e.srv.URL))
			if log = b.text("#delivery-log"); strings.Contains(log, "HTTP 200") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(log, "HTTP 200") || !strings.Contains(log, "delivered") {
			t.Fatalf("delivery log %q has no successful attempt", log)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.got) != 1 {
			t.Fatalf("the receiver got %d requests", len(rc.got))
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(rc.raw[0])
		if rc.got[0].Header.Get("X-Signature") != hex.EncodeToString(mac.Sum(nil)) {
			t.Fatal("the test event is not signed with the destination's secret")
		}
		rc.mu.Unlock()
		b.shot("destination")
		if st := b.submit(`#rotate`); st != http.StatusOK {
			t.Fatalf("rotating the secret: %d", st)
		}
		if rotated := b.text("#new-secret code"); rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
			t.Fatalf("rotated secret %q", rotated)
		}
		if st := b.submit(`#toggle`); st != http.StatusOK || b.text("#enabled") != "disabled" {
			t.Fatalf("disabling: %d %q", st, b.text("#enabled"))
		}
		if st := b.submit(`#toggle`); st != http.StatusOK || b.text("#enabled") != "enabled" {
			t.Fatalf("enabling: %d %q", st, b.text("#enabled"))
		}

		// A saved call now emits status.updated; its page lists the delivery and its attempt.
		sid := e.faceMatch(acme.key, "joe_biden/biden2.jpg", "joe_biden/biden.jpg", "vendor_data", "customer-9")
		for range 100 {
			b.open("/console/sessions/" + sid)
			if log = b.text("#session-deliveries"); strings.Contains(log, "HTTP 200") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(log, "crm") || !strings.Contains(log, "HTTP 200") || !strings.Contains(log, "#1") {
			t.Fatalf("the session's deliveries %q lack the attempt", log)
		}
		b.shot("session-with-delivery")
		rc.mu.Lock()
	})

	t.Run("FM-CON-5 another organization answers 404", func(t *testing.T) {
		for _, path := range []string{
			"/console/sessions/" + foreign,
			"/console/apps/" + other.app.ID,
			"/console/?org=" + other.org.ID,
			"/console/sessions?org=" + other.org.ID,
			"/console/admin/organizations",
			"/console/admin/audit",
		} {
			if st := b.open(path); st != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, st)
			}
		}
		b.open("/console/sessions?search=customer-42")
		rows := eval[[]string](b, `Array.from(document.querySelectorAll('#sessions tbody td.vd')).map(td => td.textContent)`)
		if len(rows) != 2 {
			t.Fatalf("rows %q: another organization's session is listed", rows)
		}
		b.shot("not-found")
	})

	t.Run("FM-CON-1 a form without its CSRF token is refused", func(t *testing.T) {
		b.open("/console/apps/" + acme.app.ID)
		before := eval[int](b, `document.querySelectorAll('#keys tbody tr[data-key]').length`)
		eval[bool](b, `document.querySelector('#create-key input[name=csrf]').remove(); true`)
		if st := b.submit(`#create-key button`); st != http.StatusForbidden {
			t.Fatalf("a key creation without CSRF token: %d, want 403", st)
		}
		b.shot("csrf-refused")
		b.open("/console/apps/" + acme.app.ID)
		after := eval[int](b, `document.querySelectorAll('#keys tbody tr[data-key]').length`)
		if after != before {
			t.Fatalf("keys %d -> %d: the refused form made a key", before, after)
		}
	})

	t.Run("FM-CON-3 delete with confirmation", func(t *testing.T) {
		b.open("/console/sessions/" + approved)
		eval[bool](b, `document.querySelector('input[name=confirm]').removeAttribute('required'); true`)
		if st := b.submit(`.danger button`); st != http.StatusBadRequest {
			t.Fatalf("an unconfirmed delete: %d, want 400", st)
		}
		b.open("/console/sessions/" + approved)
		b.run(chromedp.Click(chromedp.CSS(`input[name=confirm]`)))
		if st := b.submit(`.danger button`); st != http.StatusOK {
			t.Fatalf("delete: %d", st)
		}
		if st := b.open("/console/sessions/" + approved); st != http.StatusNotFound {
			t.Fatalf("the deleted session answers %d", st)
		}
		if e.apiStatus(acme.key, "/v3/session/"+approved+"/decision/") != http.StatusNotFound {
			t.Fatal("the API still has the deleted session")
		}
	})

	t.Run("FM-CON-1 logout ends the session on the server", func(t *testing.T) {
		var token string
		for _, c := range b.cookies() {
			if c.Name == "fm_console" {
				token = c.Value
			}
		}
		b.open("/console/")
		if st := b.submit(`.logout button`); st != http.StatusOK || !strings.Contains(b.text("h1"), "Log in") {
			t.Fatalf("logout: %d", st)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/", nil)
		req.AddCookie(&http.Cookie{Name: "fm_console", Value: token})
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
			t.Fatalf("the logged-out cookie still opens the console: %d", res.StatusCode)
		}
	})

	t.Run("FM-CON-5 admin: organizations, credits, audit log", func(t *testing.T) {
		if st := b.login(ops.email, ops.password); st != http.StatusOK {
			t.Fatalf("admin login: %d", st)
		}
		if st := b.open("/console/admin/organizations"); st != http.StatusOK {
			t.Fatalf("organizations: %d", st)
		}
		b.run(chromedp.SendKeys(chromedp.CSS(`form[action="/console/admin/organizations/`+acme.org.ID+`/credits"] input[name=amount]`), "25"))
		if st := b.submit(`form[action="/console/admin/organizations/` + acme.org.ID + `/credits"] button`); st != http.StatusOK {
			t.Fatalf("adding credits: %d", st)
		}
		if o, _ := e.db.Organization(context.Background(), acme.org.ID); o.Credits != 95+25 {
			t.Fatalf("balance %d", o.Credits)
		}
		b.run(chromedp.SendKeys(chromedp.CSS(`#create-org input[name=name]`), "initech"))
		if st := b.submit(`#create-org button`); st != http.StatusOK || !strings.Contains(b.text("#organizations"), "initech") {
			t.Fatalf("creating an organization: %d", st)
		}
		b.shot("organizations")
		if st := b.open("/console/sessions/" + foreign); st != http.StatusOK {
			t.Fatalf("an admin sees every organization's sessions: %d", st)
		}
		b.open("/console/admin/audit")
		audit := b.text("#audit")
		for _, want := range []string{"key.create", "key.revoke", "session.delete", "credits.add", "org.create", acme.email, ops.email} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %q:\n%s", want, audit)
			}
		}
		b.shot("audit")
	})
}

// location is the current page's URL.
func (b *browser) location() string {
	b.t.Helper()
	return value(b, chromedp.Location())
}
