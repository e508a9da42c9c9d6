package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/sqlite"
)

// adminLines runs an operator command that lists, and decodes its JSON lines.
func adminLines(t *testing.T, data string, args ...string) []map[string]any {
	t.Helper()
	out, stderr, err := runCLI(t, env(), append(args, "--data", data)...)
	if err != nil {
		t.Fatalf("%v: %v %s", args, err, stderr)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v printed a line that is not JSON: %q", args, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// adminFails runs an operator command that must fail with exit code 1 and a message.
func adminFails(t *testing.T, data, want string, args ...string) {
	t.Helper()
	_, _, err := runCLI(t, env(), append(args, "--data", data)...)
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v: got %v (exit %d), want exit 1 saying %q", args, err, ExitCode(err), want)
	}
}

// saveSession stores a session of app created at the given time, as a saved live call does.
func saveSession(t *testing.T, db *sqlite.DB, orgID, appID, vendor string, created time.Time) facematch.Session {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	r, err := db.ReserveCredit(ctx, orgID, id)
	if err != nil {
		t.Fatal(err)
	}
	score := 80.0
	s, err := db.CreateSession(ctx, facematch.NewSession{
		Session: facematch.Session{ID: id, AppID: appID, VendorData: &vendor, CreatedAt: created,
			FaceMatch: facematch.FaceMatch{Status: facematch.StatusApproved, Score: &score, Warnings: []facematch.Warning{}}},
		Source: facematch.StoredImage{ContentType: "image/png", Data: []byte("source")},
		Target: facematch.StoredImage{ContentType: "image/png", Data: []byte("target")},
		Credit: r,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The read commands list what exists while the server runs: organizations with balances,
// applications, keys (prefix, created, last used, never the key) and sessions, newest first.
func TestListings(t *testing.T) {
	data := t.TempDir()
	srv := startServeEnv(t, sandboxEnv(t), "--data", data, "--sandbox-only")
	acme := admin(t, data, "org", "create", "--name", "Acme", "--credits", "10")
	admin(t, data, "org", "create", "--name", "Beta")
	orgs := adminLines(t, data, "org", "list")
	if len(orgs) != 2 || orgs[0]["name"] != "Acme" || orgs[0]["credits"] != 10.0 || orgs[1]["name"] != "Beta" || orgs[1]["credits"] != 0.0 {
		t.Fatalf("org list: %v", orgs)
	}
	if got := admin(t, data, "org", "show", "--id", acme["id"].(string)); got["credits"] != 10.0 || got["name"] != "Acme" || got["created_at"] == nil {
		t.Fatalf("org show: %v", got)
	}
	adminFails(t, data, "not found", "org", "show", "--id", "nope")

	live := admin(t, data, "app", "create", "--org", acme["id"].(string), "--name", "web")
	sbx := admin(t, data, "app", "create", "--org", acme["id"].(string), "--name", "sdk", "--sandbox")
	apps := adminLines(t, data, "app", "list", "--org", acme["id"].(string))
	if len(apps) != 2 || apps[0]["id"] != live["id"] || apps[0]["mode"] != "live" || apps[1]["id"] != sbx["id"] || apps[1]["mode"] != "sandbox" {
		t.Fatalf("app list: %v", apps)
	}
	adminFails(t, data, "not found", "app", "list", "--org", "nope")

	used := admin(t, data, "key", "create", "--app", sbx["id"].(string))
	idle := admin(t, data, "key", "create", "--app", sbx["id"].(string))
	before := time.Now().Add(-time.Second)
	if status, body, _ := send(t, faceMatchRequest(t, srv.base, used["key"].(string))); status != 200 {
		t.Fatalf("sandbox call: %d %s", status, body)
	}
	admin(t, data, "key", "revoke", "--id", idle["id"].(string))
	out, _, err := runCLI(t, env(), "key", "list", "--app", sbx["id"].(string), "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	secret := used["key"].(string)[len("fm_sandbox_0123456789abcdef_"):]
	if strings.Contains(out, secret) || strings.Contains(out, idle["key"].(string)[len("fm_sandbox_0123456789abcdef_"):]) {
		t.Fatalf("key list shows a secret:\n%s", out)
	}
	keys := adminLines(t, data, "key", "list", "--app", sbx["id"].(string))
	if len(keys) != 2 || keys[0]["id"] != used["id"] || keys[0]["prefix"] != "fm_sandbox_"+used["id"].(string)+"_" || keys[0]["revoked_at"] != nil {
		t.Fatalf("key list: %v", keys)
	}
	lastUsed, err := time.Parse(time.RFC3339Nano, keys[0]["last_used"].(string))
	if err != nil || lastUsed.Before(before) || lastUsed.After(time.Now()) {
		t.Fatalf("last_used of the used key: %v (%v)", keys[0]["last_used"], err)
	}
	if keys[1]["last_used"] != nil || keys[1]["revoked_at"] == nil {
		t.Fatalf("the idle, revoked key: %v", keys[1])
	}
	adminFails(t, data, "not found", "key", "list", "--app", "nope")

	db, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	old := saveSession(t, db, acme["id"].(string), live["id"].(string), "v1", now.Add(-3*time.Hour))
	mid := saveSession(t, db, acme["id"].(string), live["id"].(string), "v2", now.Add(-2*time.Hour))
	recent := saveSession(t, db, acme["id"].(string), live["id"].(string), "v1", now)
	ids := func(lines []map[string]any) (out []string) {
		for _, l := range lines {
			out = append(out, l["id"].(string))
		}
		return out
	}
	all := adminLines(t, data, "session", "list", "--app", live["id"].(string))
	if got := strings.Join(ids(all), " "); got != strings.Join([]string{recent.ID, mid.ID, old.ID}, " ") {
		t.Fatalf("session list, newest first: %s", got)
	}
	if all[0]["vendor_data"] != "v1" || all[0]["number"] != 3.0 || all[0]["face_match"].(map[string]any)["status"] != "Approved" {
		t.Fatalf("session line: %v", all[0])
	}
	if got := ids(adminLines(t, data, "session", "list", "--app", live["id"].(string), "--vendor-data", "v1")); strings.Join(got, " ") != recent.ID+" "+old.ID {
		t.Fatalf("--vendor-data v1: %v", got)
	}
	if got := ids(adminLines(t, data, "session", "list", "--app", live["id"].(string), "--limit", "1")); len(got) != 1 || got[0] != recent.ID {
		t.Fatalf("--limit 1: %v", got)
	}
	if got := adminLines(t, data, "session", "list", "--app", sbx["id"].(string)); len(got) != 0 {
		t.Fatalf("another application's sessions: %v", got)
	}
	adminFails(t, data, "not found", "session", "list", "--app", "nope")
}

// session purge deletes the sessions older than a duration with their images, of one
// application or of all, and prints how many.
func TestSessionPurge(t *testing.T) {
	data := t.TempDir()
	org := admin(t, data, "org", "create", "--name", "Acme", "--credits", "10")
	web := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	ios := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "ios")
	db, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	oldWeb := saveSession(t, db, org["id"].(string), web["id"].(string), "a", now.Add(-48*time.Hour))
	newWeb := saveSession(t, db, org["id"].(string), web["id"].(string), "b", now.Add(-time.Hour))
	oldIOS := saveSession(t, db, org["id"].(string), ios["id"].(string), "c", now.Add(-72*time.Hour))

	if got := admin(t, data, "session", "purge", "--older-than", "1d", "--app", web["id"].(string)); got["purged"] != 1.0 {
		t.Fatalf("purge of web: %v", got)
	}
	ctx := context.Background()
	if _, err := db.Session(ctx, web["id"].(string), oldWeb.ID); facematch.ErrorCode(err) != facematch.ENOTFOUND {
		t.Fatalf("purged session: %v", err)
	}
	for _, kind := range []string{facematch.ImageSource, facematch.ImageTarget} {
		if _, err := db.SessionImage(ctx, oldWeb.ID, kind); facematch.ErrorCode(err) != facematch.ENOTFOUND {
			t.Fatalf("purged session's %s image: %v", kind, err)
		}
	}
	if _, err := db.Session(ctx, web["id"].(string), newWeb.ID); err != nil {
		t.Fatalf("a session younger than the duration: %v", err)
	}
	if _, err := db.Session(ctx, ios["id"].(string), oldIOS.ID); err != nil {
		t.Fatalf("another application's session: %v", err)
	}
	if got := admin(t, data, "session", "purge", "--older-than", "30m"); got["purged"] != 2.0 {
		t.Fatalf("purge of all: %v", got)
	}
	adminFails(t, data, "not found", "session", "purge", "--older-than", "1d", "--app", "nope")
}

// serve --retention purges on start and every hour after.
func TestServeRetention(t *testing.T) {
	data := t.TempDir()
	org := admin(t, data, "org", "create", "--name", "Acme", "--credits", "10")
	web := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	db, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := saveSession(t, db, org["id"].(string), web["id"].(string), "a", time.Now().Add(-31*24*time.Hour))
	kept := saveSession(t, db, org["id"].(string), web["id"].(string), "b", time.Now().Add(-29*24*time.Hour))
	srv := startServeEnv(t, sandboxEnv(t), "--data", data, "--sandbox-only", "--retention", "30d")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := db.Session(context.Background(), web["id"].(string), old.ID)
		if facematch.ErrorCode(err) == facematch.ENOTFOUND {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 31-day-old session is still there: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := db.Session(context.Background(), web["id"].(string), kept.ID); err != nil {
		t.Fatalf("the 29-day-old session: %v", err)
	}
	srv.close()
	var logged bool
	for _, l := range srv.logs.lines() {
		logged = logged || (l["msg"] == "retention: purged sessions" && l["sessions"] == 1.0)
	}
	if !logged {
		t.Fatal("no log line for the purge")
	}
}

// backup writes a consistent copy of the database while the server runs; the copy opens as a
// data folder of its own, and an existing file is never overwritten.
func TestBackup(t *testing.T) {
	data := t.TempDir()
	srv := startServeEnv(t, sandboxEnv(t, "FACEMATCH_SANDBOX_KEY", testSandboxKey), "--data", data, "--sandbox-only")
	admin(t, data, "org", "create", "--name", "Acme", "--credits", "7")
	// Requests go on during the backup: the server writes to the rate-limit tables meanwhile.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				send(t, faceMatchRequest(t, srv.base, testSandboxKey))
			}
		}
	}()
	restored := t.TempDir()
	out := filepath.Join(restored, sqlite.FileName)
	got := admin(t, data, "backup", "--out", out)
	close(stop)
	<-done
	if got["out"] != out || got["bytes"].(float64) <= 0 {
		t.Fatalf("backup printed %v", got)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup's mode: %v %v", fi.Mode(), err)
	}
	adminFails(t, data, "exists already", "backup", "--out", out)

	copyDB, err := sqlite.Open(context.Background(), restored)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	orgs, err := copyDB.ListOrganizations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, o := range orgs {
		names = append(names, o.Name)
	}
	if strings.Join(names, ",") != "Sandbox,Acme" {
		t.Fatalf("organizations in the backup: %v", names)
	}
}
