package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/shared"
)

// buildBinary builds bin/facematch into a temp folder: the crash test needs a process it can
// kill.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "facematch")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/facematch")
	cmd.Dir = shared.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a server running as a child process.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startProcess(t *testing.T, bin, data string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--models", modelsDir(), "--workers", "2"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, base: "http://" + a}
	case <-time.After(60 * time.Second):
		t.Fatal("the server process did not start")
	}
	return nil
}

// hookLog is a receiver that dedupes deliveries by webhook id, as the README tells receivers
// to, and answers 503 until told otherwise.
type hookLog struct {
	mu        sync.Mutex
	ok        bool
	attempts  int
	delivered map[string]string // webhook id -> session id, for attempts answered 200
	sessions  map[string]int    // session id -> deliveries kept after dedupe
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		SessionID string `json:"session_id"`
	}
	json.Unmarshal(body, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	if !h.ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get("X-Webhook-Id")
	if _, dup := h.delivered[id]; !dup {
		h.delivered[id] = ev.SessionID
		h.sessions[ev.SessionID]++
	}
	w.WriteHeader(http.StatusOK)
}

// [FM-WH-4] Deliveries are durable: a server killed with SIGKILL while deliveries are pending
// delivers every queued event after it restarts on the same data folder, and the receiver's
// dedupe by webhook id leaves exactly one event per session.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	hooks := &hookLog{delivered: map[string]string{}, sessions: map[string]int{}}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	extra := []string{"--allow-private-webhooks", "--webhook-backoff", "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"}
	srv := startProcess(t, bin, data, extra...)
	org := admin(t, data, "org", "create", "--name", "Crash", "--credits", "20")
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	key := admin(t, data, "key", "create", "--app", app["id"].(string))["key"].(string)

	req, _ := http.NewRequest(http.MethodPost, srv.base+"/v3/webhook/destinations/",
		strings.NewReader(`{"label":"receiver","url":"`+recv.URL+`/hook","subscribed_events":["status.updated"]}`))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	if status, body, _ := send(t, req); status != 201 {
		t.Fatalf("destination: %d %s", status, body)
	}
	const calls = 6
	sessions := map[string]bool{}
	for range calls {
		status, body, _ := send(t, faceMatchRequest(t, srv.base, key))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		var r struct {
			RequestID string `json:"request_id"`
		}
		json.Unmarshal([]byte(body), &r)
		sessions[r.RequestID] = true
	}
	// Wait until the receiver has refused some attempts: the deliveries are pending.
	deadline := time.Now().Add(20 * time.Second)
	for {
		hooks.mu.Lock()
		n := hooks.attempts
		hooks.mu.Unlock()
		if n >= calls {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts before the kill", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	hooks.mu.Lock()
	hooks.ok = true
	hooks.mu.Unlock()

	startProcess(t, bin, data, extra...)
	deadline = time.Now().Add(45 * time.Second)
	for {
		hooks.mu.Lock()
		got := len(hooks.sessions)
		hooks.mu.Unlock()
		if got == calls || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if len(hooks.sessions) != calls {
		t.Fatalf("%d of %d sessions delivered after the restart", len(hooks.sessions), calls)
	}
	for s, n := range hooks.sessions {
		if !sessions[s] || n != 1 {
			t.Fatalf("session %s: %d events kept after dedupe (known: %v)", s, n, sessions[s])
		}
	}
	// The credits spent are exactly the 200s.
	org2 := admin(t, data, "credits", "add", "--org", org["id"].(string), "--amount", "1")
	if org2["credits"] != float64(20-calls+1) {
		t.Fatalf("balance %v after %d calls", org2["credits"], calls)
	}
}
