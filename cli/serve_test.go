package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/shared"
)

// logSink collects the server's JSON log lines and reports the address it listens on.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrC chan string
	sent  bool
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				l.addrC <- line.Addr
				l.sent = true
			}
		}
	}
	return len(p), nil
}

func (l *logSink) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// running is the whole program serving in-process, as main runs it.
type running struct {
	base   string
	stdout *bytes.Buffer
	logs   *logSink
	stop   context.CancelFunc
	done   chan error

	once    sync.Once
	stopErr error
}

// close stops the server, as SIGTERM does, and returns what serve returned; later calls return
// the same.
func (r *running) close() error {
	r.once.Do(func() { r.stop(); r.stopErr = <-r.done })
	return r.stopErr
}

func startServe(t *testing.T, data string, extra ...string) *running {
	t.Helper()
	args := append([]string{"--data", data, "--workers", "2"}, extra...)
	return startServeEnv(t, env("FACEMATCH_MODELS", modelsDir(), "FACEMATCH_SHARED", shared.Dir()), args...)
}

// startServeEnv runs `facematch serve --addr 127.0.0.1:0 ARGS...` in-process with the
// environment e and waits until it is ready.
func startServeEnv(t *testing.T, e Env, extra ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logSink{addrC: make(chan string, 1)}
	stdout := &bytes.Buffer{}
	args := append([]string{"facematch", "serve", "--addr", "127.0.0.1:0"}, extra...)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, e, stdout, logs) }()
	var addr string
	select {
	case addr = <-logs.addrC:
	case err := <-done:
		cancel()
		t.Fatalf("serve ended: %v\n%s", err, logs.buf.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	r := &running{base: "http://" + addr, stdout: stdout, logs: logs, stop: cancel, done: done}
	t.Cleanup(func() { r.close() })
	for i := 0; ; i++ {
		res, err := http.Get(r.base + "/readyz")
		if err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// admin runs an operator command and decodes its JSON output.
func admin(t *testing.T, data string, args ...string) map[string]any {
	t.Helper()
	out, stderr, err := runCLI(t, env(), append(args, "--data", data)...)
	if err != nil {
		t.Fatalf("%v: %v %s", args, err, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v printed %q", args, out)
	}
	return m
}

func faceMatchRequest(t *testing.T, base, key string, fields ...string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range []struct{ field, rel string }{{"user_image", "barack_obama/obama.jpg"}, {"ref_image", "barack_obama/obama2.jpg"}} {
		p, _ := w.CreateFormFile(f.field, f.rel[strings.LastIndex(f.rel, "/")+1:])
		p.Write(shared.Read(t, "fixtures", "faces", f.rel))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		w.WriteField(fields[i], fields[i+1])
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/v3/face-match/", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("x-api-key", key)
	return req
}

func send(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// The operator's commands work while the server runs on the same data folder, print JSON, and
// their effects are seen at once: a new key works, added credits are spent, a revoked key is
// refused.
func TestAdminCommandsWhileServing(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, data)
	org := admin(t, data, "org", "create", "--name", "Acme", "--credits", "1")
	if org["name"] != "Acme" || org["credits"] != 1.0 {
		t.Fatalf("org create printed %v", org)
	}
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	if app["mode"] != "live" {
		t.Fatalf("app create printed %v", app)
	}
	sbApp := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "sdk", "--sandbox")
	if sbApp["mode"] != "sandbox" {
		t.Fatalf("app create --sandbox printed %v", sbApp)
	}
	key := admin(t, data, "key", "create", "--app", app["id"].(string))
	if !strings.HasPrefix(key["key"].(string), "fm_live_") {
		t.Fatalf("key create printed %v", key)
	}
	status, body, _ := send(t, faceMatchRequest(t, srv.base, key["key"].(string)))
	if status != 200 || !strings.Contains(body, `"Approved"`) {
		t.Fatalf("%d %s", status, body)
	}
	if status, _, _ := send(t, faceMatchRequest(t, srv.base, key["key"].(string))); status != 403 {
		t.Fatalf("no credit left: %d", status)
	}
	if got := admin(t, data, "credits", "add", "--org", org["id"].(string), "--amount", "2"); got["credits"] != 2.0 || got["org"] != org["id"] {
		t.Fatalf("credits add printed %v", got)
	}
	if got := admin(t, data, "credits", "add", "--org", org["id"].(string), "--amount", "-1"); got["credits"] != 1.0 {
		t.Fatalf("credits add -1 printed %v", got)
	}
	if status, _, _ := send(t, faceMatchRequest(t, srv.base, key["key"].(string))); status != 200 {
		t.Fatalf("after credits add: %d", status)
	}
	admin(t, data, "key", "revoke", "--id", key["id"].(string))
	if status, body, _ := send(t, faceMatchRequest(t, srv.base, key["key"].(string))); status != 403 || !strings.Contains(body, "permission") {
		t.Fatalf("revoked key: %d %s", status, body)
	}
	// Errors go to stderr with a non-zero exit (an error from Run).
	if _, _, err := runCLI(t, env(), "credits", "add", "--org", org["id"].(string), "--amount", "-5", "--data", data); err == nil {
		t.Fatal("removing more credits than the balance holds succeeded")
	}
	if _, _, err := runCLI(t, env(), "app", "create", "--org", "nope", "--name", "x", "--data", data); err == nil {
		t.Fatal("an application of an unknown organization was created")
	}
}

// /healthz, /readyz, /metrics and /openapi.yaml; JSON logs carry each request's id.
func TestOperations(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, data)
	org := admin(t, data, "org", "create", "--name", "Ops", "--credits", "3")
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	key := admin(t, data, "key", "create", "--app", app["id"].(string))["key"].(string)
	status, _, h := send(t, faceMatchRequest(t, srv.base, key))
	if status != 200 {
		t.Fatal(status)
	}
	requestID := h.Get("X-Request-Id")

	for path, want := range map[string]string{
		"/healthz":      `"ok"`,
		"/readyz":       `"ready"`,
		"/openapi.yaml": string(facematch.OpenAPISpec[:200]),
		"/metrics":      `facematch_http_requests_total{method="POST",route="/v3/face-match/",status="200"} 1`,
	} {
		res, err := http.Get(srv.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in %.300s", path, res.StatusCode, want, b)
		}
		if path == "/metrics" {
			for _, m := range []string{"facematch_http_request_duration_seconds_bucket", `facematch_matcher_stage_seconds_bucket{stage="detect-hog"`,
				`facematch_matcher_stage_seconds_bucket{stage="decode"`, `facematch_credits_consumed_total{status="Approved"} 1`, "go_goroutines"} {
				if !strings.Contains(string(b), m) {
					t.Errorf("/metrics lacks %s", m)
				}
			}
		}
	}
	found := false
	for _, l := range srv.logs.lines() {
		if l["msg"] == "request" && l["request_id"] == requestID {
			found = l["route"] == "/v3/face-match/" && l["status"] == 200.0 && l["key"] != nil
		}
	}
	if !found {
		t.Fatalf("no log line for request %s", requestID)
	}
}

// SIGTERM (here, the end of Run's context) lets the requests in flight finish.
func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, data)
	org := admin(t, data, "org", "create", "--name", "G", "--credits", "3")
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	key := admin(t, data, "key", "create", "--app", app["id"].(string))["key"].(string)
	result := make(chan string, 1)
	go func() {
		status, body, _ := send(t, faceMatchRequest(t, srv.base, key, "rotate_image", "true"))
		result <- fmt.Sprint(status, " ", body)
	}()
	time.Sleep(150 * time.Millisecond) // the call is being processed
	srv.stop()
	select {
	case got := <-result:
		if !strings.HasPrefix(got, "200 ") {
			t.Fatalf("the call in flight got %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call in flight never finished")
	}
	if err := <-srv.done; err != nil {
		t.Fatalf("serve ended with %v", err)
	}
	srv.done <- nil // for the cleanup
	if _, err := http.Get(srv.base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// serve --demo creates a demo organization with 100 credits and a live and a sandbox key on
// the first start, prints them with a curl that works, and prints the same ones again later.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, data, "--demo")
	out := srv.stdout.String()
	live := between(out, "live key:    ", "\n")
	sb := between(out, "sandbox key: ", "\n")
	if !strings.HasPrefix(live, "fm_live_") || !strings.HasPrefix(sb, "fm_sandbox_") || !strings.Contains(out, "curl -s -H 'x-api-key: "+live) ||
		!strings.Contains(out, "100 credits") || !strings.Contains(out, srv.base+"/v3/face-match/") {
		t.Fatalf("demo output:\n%s", out)
	}
	status, body, _ := send(t, faceMatchRequest(t, srv.base, live))
	if status != 200 || !strings.Contains(body, `"Approved"`) {
		t.Fatalf("%d %s", status, body)
	}
	if status, _, _ := send(t, faceMatchRequest(t, srv.base, sb)); status != 200 {
		t.Fatalf("sandbox key: %d", status)
	}
	srv.stop()
	<-srv.done
	srv.done <- nil
	again := startServe(t, data, "--demo")
	if between(again.stdout.String(), "live key:    ", "\n") != live || !strings.Contains(again.stdout.String(), "99 credits") {
		t.Fatalf("second start printed:\n%s", again.stdout.String())
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}
