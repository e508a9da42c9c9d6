package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/sqlite"
)

// outcome is what the load saw of one live call.
type outcome struct {
	requestID string
	saved     bool
	ok        bool // a 200 reached the client
}

// liveCall posts a small live face-match and reports what came back.
func liveCall(client *http.Client, base, key string, user, ref []byte, save bool) (outcome, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	p, _ := w.CreateFormFile("user_image", "u.jpg")
	p.Write(user)
	p, _ = w.CreateFormFile("ref_image", "r.jpg")
	p.Write(ref)
	w.WriteField("save_api_request", fmt.Sprint(save))
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/v3/face-match/", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("x-api-key", key)
	res, err := client.Do(req)
	if err != nil {
		return outcome{saved: save}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return outcome{saved: save}, err
	}
	if res.StatusCode != 200 {
		return outcome{saved: save}, fmt.Errorf("status %d: %s", res.StatusCode, body)
	}
	var r struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal(body, &r)
	return outcome{requestID: r.RequestID, saved: save, ok: true}, nil
}

// [FM-SES-1] [FM-BILL-2] [FM-WH-4] SIGKILL in the middle of a load, three times in a row, each
// time restarting on the same data folder: every 200 with save_api_request=true has its session
// and both images, the credits consumed equal the calls the server completed (every 200 the
// clients saw, plus at most the calls cut by the kill), every saved session's webhook arrives
// once after dedupe, and nothing is half-written.
func TestCrashUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash test runs real processes for about a minute")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	hooks := &hookLog{ok: true, delivered: map[string]string{}, sessions: map[string]int{}}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	extra := []string{"--allow-private-webhooks", "--webhook-backoff", "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
		"--write-limit", "100000", "--read-limit", "100000"}
	const credits = 100000
	org := admin(t, data, "org", "create", "--name", "Load", "--credits", fmt.Sprint(credits))
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	key := admin(t, data, "key", "create", "--app", app["id"].(string))["key"].(string)
	user := shared.Read(t, "fixtures", "faces", "barack_obama", "obama_small.jpg")
	ref := shared.Read(t, "fixtures", "faces", "barack_obama", "obama-240p.jpg")

	var all []outcome
	cut := 0 // calls whose client saw an error: the kill cut them
	for round := 1; round <= 3; round++ {
		srv := startProcess(t, bin, data, extra...)
		if round == 1 {
			req, _ := http.NewRequest(http.MethodPost, srv.base+"/v3/webhook/destinations/",
				strings.NewReader(`{"label":"receiver","url":"`+recv.URL+`/hook","subscribed_events":["status.updated"]}`))
			req.Header.Set("x-api-key", key)
			req.Header.Set("Content-Type", "application/json")
			if status, body, _ := send(t, req); status != 201 {
				t.Fatalf("destination: %d %s", status, body)
			}
		}
		var (
			mu  sync.Mutex
			wg  sync.WaitGroup
			ctx context.Context
		)
		ctx, stop := context.WithCancel(context.Background())
		client := &http.Client{Timeout: 30 * time.Second}
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					o, err := liveCall(client, srv.base, key, user, ref, (g+i)%3 != 0)
					mu.Lock()
					if err != nil {
						if !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") {
							t.Errorf("round %d: %v", round, err)
						}
						cut++
					} else {
						all = append(all, o)
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(3 * time.Second)
		stop() // no new calls: the ones in flight are cut by the kill
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		wg.Wait()
	}
	srv := startProcess(t, bin, data, extra...)

	// Every saved 200 has its decision and both images, byte for byte.
	saved := map[string]bool{}
	live200 := 0
	for _, o := range all {
		live200++
		if !o.saved {
			continue
		}
		saved[o.requestID] = true
		req, _ := http.NewRequest(http.MethodGet, srv.base+"/v3/session/"+o.requestID+"/decision/", nil)
		req.Header.Set("x-api-key", key)
		status, body, _ := send(t, req)
		if status != 200 {
			t.Fatalf("saved call %s: decision %d %s", o.requestID, status, body)
		}
		var dec struct {
			FaceMatches []struct {
				SourceImage string `json:"source_image"`
				TargetImage string `json:"target_image"`
			} `json:"face_matches"`
		}
		json.Unmarshal([]byte(body), &dec)
		for u, want := range map[string][]byte{dec.FaceMatches[0].SourceImage: ref, dec.FaceMatches[0].TargetImage: user} {
			res, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Equal(got, want) {
				t.Fatalf("session %s: image %d, %d bytes", o.requestID, res.StatusCode, len(got))
			}
		}
	}
	t.Logf("3 kills under load: %d live 200s seen (%d saved), %d calls cut by the kills", live200, len(saved), cut)
	if live200 < 15 {
		t.Fatalf("only %d calls completed: the load did not run", live200)
	}

	// The store, read directly: credits, sessions, images, reservations.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, sqlite.FileName)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var balance, consumed, reserved, sessions, halfWritten int
	db.QueryRow(`SELECT credits FROM organizations WHERE id = ?`, org["id"]).Scan(&balance)
	db.QueryRow(`SELECT COUNT(*) FROM credit_ledger WHERE reason = 'consume'`).Scan(&consumed)
	db.QueryRow(`SELECT COUNT(*) FROM credit_reservations`).Scan(&reserved)
	db.QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&sessions)
	db.QueryRow(`SELECT COUNT(*) FROM sessions s WHERE (SELECT COUNT(*) FROM session_images i WHERE i.session_id = s.id) != 2`).Scan(&halfWritten)
	if reserved != 0 {
		t.Errorf("%d credits still reserved after the restart", reserved)
	}
	if credits-balance != consumed {
		t.Errorf("balance %d, consumed %d: %d credits unaccounted for", balance, consumed, credits-balance-consumed)
	}
	if consumed < live200 || consumed > live200+cut {
		t.Errorf("credits consumed %d, live 200s seen %d, calls cut %d", consumed, live200, cut)
	}
	if halfWritten != 0 {
		t.Errorf("%d sessions without both images", halfWritten)
	}
	if sessions < len(saved) || sessions > len(saved)+cut {
		t.Errorf("%d sessions stored for %d saved 200s and %d cut calls", sessions, len(saved), cut)
	}
	rows, err := db.Query(`SELECT id FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	for id := range saved {
		if !stored[id] {
			t.Errorf("saved 200 %s has no session", id)
		}
	}

	// Every stored session's webhook arrives, exactly once after dedupe.
	deadline := time.Now().Add(60 * time.Second)
	for {
		hooks.mu.Lock()
		missing := 0
		for id := range stored {
			if hooks.sessions[id] == 0 {
				missing++
			}
		}
		hooks.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions never got their webhook", missing, len(stored))
		}
		time.Sleep(200 * time.Millisecond)
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for id, n := range hooks.sessions {
		if !stored[id] || n != 1 {
			t.Fatalf("webhook for %s: %d after dedupe (stored: %v)", id, n, stored[id])
		}
	}
	t.Logf("%d sessions, %d webhook events after dedupe, %d deliveries received in all", len(stored), len(hooks.sessions), hooks.attempts)
}
