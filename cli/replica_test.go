package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/facematch/facematch/internal/pgtest"
	"github.com/facematch/facematch/internal/shared"
)

// The PostgreSQL server of the replica tests, started by the first test that needs it and
// stopped by TestMain (or, should a test panic, by pgtest's watchdog).
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Stop()
	}
	os.Exit(code)
}

// database returns a fresh, empty PostgreSQL database for a test.
func database(t *testing.T) string {
	t.Helper()
	pgOnce.Do(func() { pgServer, pgErr = pgtest.Start(pgtest.Options{}) })
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	return pgServer.Database(t)
}

// launching is a serve process on its way up.
type launching struct {
	cmd  *exec.Cmd
	addr chan string
	logs *strings.Builder
	mu   *sync.Mutex
}

// launchReplica starts `serve` on the database at dbURL, with a data folder of its own.
func launchReplica(t *testing.T, bin, dbURL string, extra ...string) *launching {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database-url", dbURL,
		"--models", modelsDir(), "--workers", "1", "--allow-private-webhooks", "--live-queue", "64"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l := &launching{cmd: cmd, addr: make(chan string, 1), logs: &strings.Builder{}, mu: &sync.Mutex{}}
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			l.mu.Lock()
			l.logs.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
			var line struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				l.addr <- line.Addr
				sent = true
			}
		}
	}()
	return l
}

// ready waits until the replica listens and answers /readyz.
func (l *launching) ready(t *testing.T) *process {
	t.Helper()
	var base string
	select {
	case a := <-l.addr:
		base = "http://" + a
	case <-time.After(90 * time.Second):
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("a replica did not start:\n%s", l.logs.String())
	}
	for i := 0; ; i++ {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return &process{cmd: l.cmd, base: base}
			}
		}
		if i > 200 {
			t.Fatalf("replica %s never ready", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startReplicas starts n replicas at once on one database and waits until all are ready.
func startReplicas(t *testing.T, bin, dbURL string, n int, extra ...string) []*process {
	t.Helper()
	var ls []*launching
	for range n {
		ls = append(ls, launchReplica(t, bin, dbURL, extra...))
	}
	var ps []*process
	for _, l := range ls {
		ps = append(ps, l.ready(t))
	}
	return ps
}

// adminDB runs an operator command on the database and decodes its JSON output.
func adminDB(t *testing.T, dbURL string, args ...string) map[string]any {
	t.Helper()
	out, stderr, err := runCLI(t, env(), append(args, "--database-url", dbURL)...)
	if err != nil {
		t.Fatalf("%v: %v %s", args, err, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v printed %q", args, out)
	}
	return m
}

// tenant creates an organization with credits and an application of the mode with a key.
func tenant(t *testing.T, dbURL string, credits int, sandbox bool) (orgID, key string) {
	t.Helper()
	org := adminDB(t, dbURL, "org", "create", "--name", "Acme", "--credits", fmt.Sprint(credits))
	args := []string{"app", "create", "--org", org["id"].(string), "--name", "web"}
	if sandbox {
		args = append(args, "--sandbox")
	}
	app := adminDB(t, dbURL, args...)
	return org["id"].(string), adminDB(t, dbURL, "key", "create", "--app", app["id"].(string))["key"].(string)
}

// balanceOf reads an organization's balance through the operator's command (adding 0 is
// refused, so it adds one and reads the balance less one).
func balanceOf(t *testing.T, dbURL, orgID string) int {
	t.Helper()
	got := adminDB(t, dbURL, "credits", "add", "--org", orgID, "--amount", "1")
	adminDB(t, dbURL, "credits", "add", "--org", orgID, "--amount", "-1")
	return int(got["credits"].(float64)) - 1
}

// [FM-SCALE-1] [FM-SCALE-2] Three replicas on one PostgreSQL database, started at once on an
// empty database, behave as one service over real HTTP: credits exact under calls spread over
// them, one rate-limit window per key, a session and its signed image URLs readable and
// deletable through any replica, a destination made on one used by all, and each saved call's
// webhook delivered once.
func TestReplicasBehaveAsOneService(t *testing.T) {
	bin := buildBinary(t)
	dbURL := database(t)
	hooks := &hookLog{ok: true, delivered: map[string]string{}, sessions: map[string]int{}}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	replicas := startReplicas(t, bin, dbURL, 3)

	t.Run("CreditsExactAcrossReplicas", func(t *testing.T) {
		orgID, key := tenant(t, dbURL, 10, false)
		var ok, refused, other atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := http.DefaultClient.Do(faceMatchRequest(t, replicas[i%3].base, key))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				switch res.StatusCode {
				case 200:
					ok.Add(1)
				case 403:
					refused.Add(1)
				default:
					other.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 10 || refused.Load() != 30 || other.Load() != 0 {
			t.Fatalf("%d answered 200, %d 403, %d otherwise; want 10, 30, 0", ok.Load(), refused.Load(), other.Load())
		}
		if b := balanceOf(t, dbURL, orgID); b != 0 {
			t.Fatalf("balance %d, want 0", b)
		}
	})

	t.Run("OneRateLimitWindowPerKey", func(t *testing.T) {
		_, key := tenant(t, dbURL, 0, true)
		var ok atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, 12)
		for i := range 300 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				res, err := http.DefaultClient.Do(faceMatchRequest(t, replicas[i%3].base, key))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode == 200 {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 300 {
			t.Fatalf("%d of 300 writes answered 200", ok.Load())
		}
		for _, r := range replicas {
			status, body, h := send(t, faceMatchRequest(t, r.base, key))
			if status != 429 || h.Get("X-RateLimit-Remaining") != "0" {
				t.Fatalf("write 301 on %s: %d %s", r.base, status, body)
			}
		}
	})

	t.Run("SessionThroughAnyReplica", func(t *testing.T) {
		_, key := tenant(t, dbURL, 5, false)
		status, body, _ := send(t, faceMatchRequest(t, replicas[0].base, key, "save_api_request", "true"))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		var r struct {
			RequestID string `json:"request_id"`
		}
		json.Unmarshal([]byte(body), &r)
		req, _ := http.NewRequest(http.MethodGet, replicas[1].base+"/v3/session/"+r.RequestID+"/decision/", nil)
		req.Header.Set("x-api-key", key)
		status, body, _ = send(t, req)
		if status != 200 {
			t.Fatalf("decision on another replica: %d %s", status, body)
		}
		urls := regexp.MustCompile(`https?://[^"]+/media/sessions/[^"]+`).FindAllString(body, -1)
		if len(urls) != 2 {
			t.Fatalf("image URLs in %s", body)
		}
		for _, u := range urls {
			u = strings.ReplaceAll(u, `\u0026`, "&")
			// A URL signed by one replica verifies on another.
			third := replicas[2].base + u[strings.Index(u, "/media/"):]
			res, err := http.Get(third)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/") {
				t.Fatalf("%s: %d %s", third, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
		req, _ = http.NewRequest(http.MethodDelete, replicas[2].base+"/v3/session/"+r.RequestID+"/delete/", nil)
		req.Header.Set("x-api-key", key)
		if status, body, _ := send(t, req); status != 204 {
			t.Fatalf("delete on a third replica: %d %s", status, body)
		}
		req, _ = http.NewRequest(http.MethodGet, replicas[0].base+"/v3/session/"+r.RequestID+"/decision/", nil)
		req.Header.Set("x-api-key", key)
		if status, _, _ := send(t, req); status != 404 {
			t.Fatalf("deleted session on the first replica: %d", status)
		}
	})

	t.Run("WebhooksDeliveredOnce", func(t *testing.T) {
		_, key := tenant(t, dbURL, 12, false)
		req, _ := http.NewRequest(http.MethodPost, replicas[1].base+"/v3/webhook/destinations/",
			strings.NewReader(`{"label":"receiver","url":"`+recv.URL+`/hook","subscribed_events":["status.updated"]}`))
		req.Header.Set("x-api-key", key)
		req.Header.Set("Content-Type", "application/json")
		if status, body, _ := send(t, req); status != 201 {
			t.Fatalf("destination: %d %s", status, body)
		}
		sessions := map[string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, body, _ := send(t, faceMatchRequest(t, replicas[i%3].base, key, "save_api_request", "true"))
				if status != 200 {
					t.Errorf("%d %s", status, body)
					return
				}
				var r struct {
					RequestID string `json:"request_id"`
				}
				json.Unmarshal([]byte(body), &r)
				mu.Lock()
				sessions[r.RequestID] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for {
			hooks.mu.Lock()
			got := 0
			for s := range sessions {
				got += hooks.sessions[s]
			}
			hooks.mu.Unlock()
			if got >= len(sessions) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // room for a duplicate attempt to show
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		if hooks.attempts != len(sessions) {
			t.Fatalf("%d attempts for %d saved calls, want one each", hooks.attempts, len(sessions))
		}
		for s := range sessions {
			if hooks.sessions[s] != 1 {
				t.Fatalf("session %s: %d deliveries", s, hooks.sessions[s])
			}
		}
	})
}

// [FM-SCALE-3] A replica killed with SIGKILL under load of saved live calls: the others keep
// serving; the credits it had reserved go back once its lease lapsed (a 3-second lease here,
// so the test is short), so the balance is exactly the initial one less the sessions saved; and
// every saved session's webhook is delivered, those it had claimed by the survivors.
func TestReplicaKilledUnderLoad(t *testing.T) {
	bin := buildBinary(t)
	dbURL := database(t)
	hooks := &hookLog{ok: true, delivered: map[string]string{}, sessions: map[string]int{}}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	replicas := startReplicas(t, bin, dbURL, 3, "--replica-lease", "3s", "--webhook-backoff", "1s,1s,1s,1s,1s")
	const credits = 200
	orgID, key := tenant(t, dbURL, credits, false)
	req, _ := http.NewRequest(http.MethodPost, replicas[1].base+"/v3/webhook/destinations/",
		strings.NewReader(`{"label":"receiver","url":"`+recv.URL+`/hook","subscribed_events":["status.updated"]}`))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	if status, body, _ := send(t, req); status != 201 {
		t.Fatalf("destination: %d %s", status, body)
	}
	user := shared.Read(t, "fixtures", "faces", "barack_obama/obama.jpg")
	ref := shared.Read(t, "fixtures", "faces", "barack_obama/obama2.jpg")

	var (
		killed       atomic.Bool
		afterKill    atomic.Int64 // 200s from the survivors after the kill
		mu           sync.Mutex
		saved        = map[string]bool{}
		wg           sync.WaitGroup
		stop         = make(chan struct{})
		survivorErrs atomic.Int64
	)
	client := &http.Client{Timeout: 60 * time.Second}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := (w + i) % 3
				dead := killed.Load()
				if dead && r == 0 {
					continue
				}
				o, err := liveCall(client, replicas[r].base, key, user, ref, true)
				if err != nil {
					if r != 0 {
						survivorErrs.Add(1)
						t.Errorf("replica %d: %v", r, err)
					}
					continue
				}
				mu.Lock()
				saved[o.requestID] = true
				mu.Unlock()
				if dead && r != 0 {
					afterKill.Add(1)
				}
			}
		}()
	}
	// Kill the first replica while it holds reserved credits: calls in flight on it.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	heldBy := func(pid int) int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM credit_reservations r JOIN replica_leases l ON l.owner = r.owner WHERE l.pid = $1`,
			pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	victim := replicas[0].cmd.Process.Pid
	time.Sleep(2 * time.Second)
	for deadline := time.Now().Add(30 * time.Second); heldBy(victim) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first replica never held a reservation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := replicas[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	replicas[0].cmd.Wait()
	killed.Store(true)
	heldAtKill := heldBy(victim)
	if heldAtKill == 0 {
		t.Fatal("the replica's reservations ended between the look and the kill; the test proves nothing this run")
	}
	deadline := time.Now().Add(60 * time.Second)
	for afterKill.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if afterKill.Load() < 8 || survivorErrs.Load() > 0 {
		t.Fatalf("after the kill the survivors answered %d calls with 200 and failed %d", afterKill.Load(), survivorErrs.Load())
	}

	// The dead replica's reservations come back once its lease lapsed: 3s, and the survivors
	// look every second.
	var held int
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM credit_reservations`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var consumed, sessions int
	if err := conn.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM credit_ledger WHERE reason = 'consume'), (SELECT COUNT(*) FROM sessions)`).Scan(&consumed, &sessions); err != nil {
		t.Fatal(err)
	}
	b := balanceOf(t, dbURL, orgID)
	mu.Lock()
	seen := len(saved)
	mu.Unlock()
	if held != 0 || b != credits-sessions || consumed != sessions || sessions < seen {
		t.Fatalf("reservations left %d, balance %d, consumed %d, sessions %d, 200s seen %d; want 0, %d, sessions, sessions, <= sessions",
			held, b, consumed, sessions, seen, credits-sessions)
	}
	for id := range saved {
		var n int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("session %s of a 200: %d rows, %v", id, n, err)
		}
	}
	// Every saved session's webhook arrives, including those the dead replica had claimed.
	rows, err := conn.Query(ctx, `SELECT id FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for deadline := time.Now().Add(60 * time.Second); ; {
		missing = missing[:0]
		hooks.mu.Lock()
		for _, id := range ids {
			if hooks.sessions[id] == 0 {
				missing = append(missing, id)
			}
		}
		hooks.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d saved sessions' webhooks never arrived", len(missing), len(ids))
	}
	t.Logf("%d credits held by the replica when it was killed came back; %d sessions saved (%d 200s seen, %d after the kill), every webhook delivered",
		heldAtKill, sessions, seen, afterKill.Load())
}

// [FM-SCALE-4] A second serve on a SQLite data folder a server holds exits 1, naming the
// folder and the holding process; the operator's commands keep working beside the server.
func TestSecondServeOnSQLiteFolderRefused(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	first := startProcess(t, bin, data)
	second := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--models", modelsDir(), "--workers", "1")
	out, err := second.CombinedOutput()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 1 {
		t.Fatalf("second serve: %v\n%s", err, out)
	}
	msg := string(out)
	if !strings.Contains(msg, data) || !strings.Contains(msg, fmt.Sprintf("process %d", first.cmd.Process.Pid)) {
		t.Fatalf("the error names neither the folder %s nor the holder %d: %s", data, first.cmd.Process.Pid, msg)
	}
	org := admin(t, data, "org", "create", "--name", "Beside", "--credits", "1")
	if org["name"] != "Beside" {
		t.Fatalf("org create beside the server printed %v", org)
	}
	if res, err := http.Get(first.base + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("the first server after the refused start: %v", err)
	}
}
