package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/facematch/facematch/console"
	"github.com/facematch/facematch/sqlite"
)

// [FM-CON-1] user create makes a console account with a bcrypt hash of its password: a
// generated one is printed once; with --password-stdin none is printed.
func TestUserCreate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	run := func(args ...string) (map[string]any, error) {
		var out, errb bytes.Buffer
		env := func(k string) string {
			if k == "USER" {
				return "tester"
			}
			return ""
		}
		err := Run(ctx, append([]string{"facematch"}, args...), env, &out, &errb)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return m, nil
	}
	org, err := run("org", "create", "--data", dir, "--name", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	orgID := org["id"].(string)
	u, err := run("user", "create", "--data", dir, "--org", orgID, "--email", "Ops@Example.com", "--admin")
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u["password"].(string)
	if u["email"] != "ops@example.com" || len(pw) < console.MinPasswordLength || u["id"] == "" {
		t.Fatalf("%v", u)
	}
	if _, err := run("user", "create", "--data", dir, "--org", orgID, "--email", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a taken email: %v", err)
	}
	if _, err := run("user", "create", "--data", dir, "--org", "nope", "--email", "a@example.com"); err == nil {
		t.Fatal("an unknown organization was accepted")
	}

	r, w, _ := os.Pipe()
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old })
	w.WriteString("correct horse battery staple\n")
	w.Close()
	u2, err := run("user", "create", "--data", dir, "--org", orgID, "--email", "dev@example.com", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	if u2["password"] != nil {
		t.Fatalf("--password-stdin printed a password: %v", u2)
	}

	// The operator's changes are in the audit log the console shows admins (FM-CON-5).
	app, err := run("app", "create", "--data", dir, "--org", orgID, "--name", "web")
	if err != nil {
		t.Fatal(err)
	}
	key, err := run("key", "create", "--data", dir, "--app", app["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run("key", "revoke", "--data", dir, "--id", key["id"].(string)); err != nil {
		t.Fatal(err)
	}
	if _, err := run("credits", "add", "--data", dir, "--org", orgID, "--amount", "7"); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := db.AuditLog(ctx, orgID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		if e.Actor != "cli (tester)" {
			t.Fatalf("actor %q", e.Actor)
		}
		actions = append(actions, e.Action+" "+e.Target)
	}
	want := []string{"credits.add " + orgID, "key.revoke " + key["id"].(string), "key.create " + key["id"].(string), "org.create " + orgID}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit log %v, want %v", actions, want)
	}
	for email, want := range map[string]string{"ops@example.com": pw, "dev@example.com": "correct horse battery staple"} {
		a, err := db.AccountByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(a.PasswordHash), "$2a$") || !console.PasswordMatches(a.PasswordHash, want) || console.PasswordMatches(a.PasswordHash, want+"x") {
			t.Fatalf("%s: hash %q does not hold its password", email, a.PasswordHash)
		}
		if a.Admin != (email == "ops@example.com") {
			t.Fatalf("%s: admin %v", email, a.Admin)
		}
	}
}
