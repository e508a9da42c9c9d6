package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// formClient is a cookie-keeping HTTP client that does not follow redirects, for the login
// rules that a browser test cannot reach (the clock).
type formClient struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newFormClient(t testing.TB, base string) *formClient {
	jar, _ := cookiejar.New(nil)
	return &formClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page and returns its answer and body.
func (f *formClient) get(path string, header ...string) (*http.Response, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// post sends a form and returns its answer and body.
func (f *formClient) post(path string, form url.Values, header ...string) (*http.Response, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// login loads the login form and posts it.
func (f *formClient) login(email, password string, header ...string) *http.Response {
	f.t.Helper()
	_, body := f.get("/console/login", header...)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("the login form has no CSRF token: %s", body)
	}
	res, _ := f.post("/console/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}}, header...)
	return res
}

// [FM-CON-1] Five failed logins for one email within 15 minutes lock it for 15 minutes, the
// right password included; other emails are not locked; after 15 minutes it works again.
func TestLoginLockout(t *testing.T) {
	e := newEnv(t, nil)
	acme := e.tenant("acme", 0, false)
	other := e.tenant("other", 0, false)
	f := newFormClient(t, e.srv.URL)
	for i := range 4 {
		if res := f.login(acme.email, "wrong-password-"+string(rune('a'+i))); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, res.StatusCode)
		}
		e.clock.Add(time.Minute)
	}
	// Failures older than 15 minutes do not count: at minute 16, those of minutes 0 and 1 are
	// gone, so this fifth failure leaves three in the window.
	e.clock.Add(12 * time.Minute)
	if res := f.login(acme.email, "wrong-again-1"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a fifth failure spread over more than 15 minutes locked the email: %d", res.StatusCode)
	}
	if res := f.login(strings.ToUpper(acme.email), "wrong-again-x"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a fourth failure in the window: %d", res.StatusCode)
	}
	if res := f.login(acme.email, "wrong-again-5"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the fifth failure within 15 minutes: %d, want 429 (locked)", res.StatusCode)
	}
	if res := f.login(acme.email, acme.password); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password while locked: %d, want 429", res.StatusCode)
	}
	if res := f.login(other.email, other.password); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("another email is locked too: %d", res.StatusCode)
	}
	e.clock.Add(14 * time.Minute)
	if res := f.login(acme.email, acme.password); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 14 minutes: %d, want still locked", res.StatusCode)
	}
	e.clock.Add(time.Minute + time.Second)
	if res := f.login(acme.email, acme.password); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 15 minutes: %d, want logged in", res.StatusCode)
	}
	// An unknown email fails like a wrong password and is locked the same way.
	for range 4 {
		f.login("nobody@example.com", "whatever-password")
	}
	if res := f.login("nobody@example.com", "whatever-password"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("unknown email, fifth failure: %d", res.StatusCode)
	}
}

// [FM-CON-1] The session cookie is HttpOnly and SameSite=Lax, Secure behind https; the login
// form itself needs its CSRF token; every state-changing request without its token is a 403.
func TestLoginCookieAndCSRF(t *testing.T) {
	e := newEnv(t, nil)
	acme := e.tenant("acme", 0, false)

	f := newFormClient(t, e.srv.URL)
	res, _ := f.post("/console/login", url.Values{"email": {acme.email}, "password": {acme.password}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a login without CSRF token: %d, want 403", res.StatusCode)
	}
	res = f.login(acme.email, acme.password)
	ck := sessionCookie(t, res)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/console/" {
		t.Fatalf("cookie %+v", ck)
	}
	for _, path := range []string{"/console/apps/" + acme.app.ID + "/keys", "/console/logout", "/console/admin/organizations"} {
		if res, _ := f.post(path, url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF token: %d, want 403", path, res.StatusCode)
		}
		if res, _ := f.post(path, url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a forged CSRF token: %d, want 403", path, res.StatusCode)
		}
	}
	if keys, _ := e.db.ListAPIKeys(t.Context(), acme.app.ID); len(keys) != 1 {
		t.Fatalf("%d keys: a refused form made one", len(keys))
	}

	behindProxy := newFormClient(t, e.srv.URL)
	res = behindProxy.login(acme.email, acme.password, "X-Forwarded-Proto", "https")
	if ck := sessionCookie(t, res); !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("behind https: cookie %+v, want Secure", ck)
	}
	// An anonymous POST is refused, not redirected.
	anon := newFormClient(t, e.srv.URL)
	if res, _ := anon.post("/console/apps/"+acme.app.ID+"/keys", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an anonymous POST: %d", res.StatusCode)
	}
	if res, _ := anon.get("/console/sessions"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("an anonymous GET: %d, want a redirect to the login", res.StatusCode)
	}
}

func sessionCookie(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == "fm_console" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}
