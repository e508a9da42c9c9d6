package cli

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// [FM-CON-1] serve --demo prints, beside the keys, a console account and its URL, and that
// account logs in; a later start prints the same account.
func TestDemoConsoleAccount(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, data, "--demo")
	out := srv.stdout.String()
	m := regexp.MustCompile(`Console: (\S+) \(log in as (\S+), password (\S+)\)`).FindStringSubmatch(out)
	if m == nil || m[1] != srv.base+"/console/" {
		t.Fatalf("no console account in the demo output:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if res.Request.URL.Path != "/console/login" || csrf == nil {
		t.Fatalf("the console URL did not lead to the login form: %s", res.Request.URL)
	}
	res, err = c.PostForm(srv.base+"/console/login", url.Values{"csrf": {string(csrf[1])}, "email": {m[2]}, "password": {m[3]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/console/" || !strings.Contains(string(body), "Demo") {
		t.Fatalf("logging in with the printed account: %d %s", res.StatusCode, res.Request.URL)
	}
	srv.stop()
	<-srv.done
	srv.done <- nil
	again := startServe(t, data, "--demo")
	if !strings.Contains(again.stdout.String(), "log in as "+m[2]+", password "+m[3]) {
		t.Fatalf("second start printed:\n%s", again.stdout.String())
	}
}
