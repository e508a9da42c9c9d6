package server_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/sqlite"
)

const permissionDenied = `{"detail": "You do not have permission to perform this action."}`

// [FM-AUTH-1] Missing, unknown, revoked and malformed keys get 403 with the exact body on every
// /v3/ route, known or not, and never a 401.
func TestAuthEveryKeyProblemIs403(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(5, facematch.ModeLive)
	revoked := e.tenant(5, facematch.ModeLive)
	if err := e.db.RevokeAPIKey(context.Background(), revoked.id); err != nil {
		t.Fatal(err)
	}
	id, _, _ := facematch.ParseAPIKey(live.key)
	keys := map[string]string{
		"missing":          "",
		"unknown":          "fm_live_0123456789abcdef_" + strings.Repeat("ab", 32),
		"wrong secret":     "fm_live_" + id + "_" + strings.Repeat("cd", 32),
		"revoked":          revoked.key,
		"malformed":        "hello",
		"truncated":        live.key[:len(live.key)-1],
		"upper-case hex":   strings.ToUpper(live.key),
		"sandbox prefixed": strings.Replace(live.key, "fm_live_", "fm_sandbox_", 1),
	}
	body, ct := form(t, []file{{field: "user_image", name: "a.jpg", data: []byte("x")}})
	session := uuid.NewString()
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v3/face-match/"},
		{http.MethodGet, "/v3/session/" + session + "/decision/"},
		{http.MethodDelete, "/v3/session/" + session + "/delete/"},
		{http.MethodGet, "/v3/no/such/route/"},
		{http.MethodPut, "/v3/face-match/"},
	}
	for name, key := range keys {
		for _, rt := range routes {
			r := e.do(e.request(rt.method, rt.path, key, body, ct))
			if r.status != http.StatusForbidden {
				t.Fatalf("%s key, %s %s: status %d", name, rt.method, rt.path, r.status)
			}
			wantBody(t, r, permissionDenied)
			if r.header.Get("X-RateLimit-Limit") != "" {
				t.Errorf("%s key: rate-limit headers on a refused key", name)
			}
		}
	}
	// A valid key on an unknown route is a 404, on a known route with another method a 405.
	wantStatus(t, e.do(e.request(http.MethodGet, "/v3/no/such/route/", live.key, nil, "")), http.StatusNotFound)
	wantStatus(t, e.do(e.request(http.MethodPut, "/v3/face-match/", live.key, nil, "")), http.StatusMethodNotAllowed)
	// The key is read from the header only, once.
	req := e.request(http.MethodGet, "/v3/session/"+session+"/decision/", live.key, nil, "")
	req.Header.Add("x-api-key", live.key)
	wantStatus(t, e.do(req), http.StatusForbidden)
}

// [FM-AUTH-2] A key is shown once and only its hash is stored: the database file holds neither
// the key nor its secret, and the comparison goes through a constant-time check.
func TestAuthKeysStoredAsHashes(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := db.CreateOrganization(context.Background(), "org", 0)
	a, _ := db.CreateApplication(context.Background(), o.ID, "app", facematch.ModeLive)
	id, secret, full := facematch.NewAPIKey(facematch.ModeLive)
	if _, err := db.CreateAPIKey(context.Background(), facematch.APIKey{ID: id, AppID: a.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		t.Fatal(err)
	}
	db.Close() // checkpoint the WAL into the file
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(full)) {
			t.Fatalf("%s holds the key's secret", name)
		}
		if !bytes.Contains(data, facematch.HashSecret(secret)) && name == sqlite.FileName {
			t.Fatalf("%s does not hold the key's hash", name)
		}
	}
	flipped := secret[:63] + map[bool]string{true: "1", false: "0"}[secret[63] == '0']
	if !facematch.SecretMatches(facematch.HashSecret(secret), secret) || facematch.SecretMatches(facematch.HashSecret(secret), flipped) {
		t.Fatal("SecretMatches")
	}
}

// [FM-AUTH-3] A key sees only its own application's sessions: another application's session
// id, even of the same organization, is a 404 and reveals nothing.
func TestAuthOtherApplicationsSessionIs404(t *testing.T) {
	e := newEnv(t)
	mine := e.tenant(5, facematch.ModeLive)
	sibling := e.appIn(mine.org, facematch.ModeLive)
	r := e.faceMatch(mine.key, photo(t, "joe_biden/biden.jpg"), photo(t, "joe_biden/biden2.jpg"))
	wantStatus(t, r, http.StatusOK)
	id := faceMatchOf(t, r).RequestID
	wantStatus(t, e.decision(mine.key, id), http.StatusOK)
	for _, r := range []response{e.decision(sibling.key, id), e.deleteSession(sibling.key, id)} {
		wantStatus(t, r, http.StatusNotFound)
		wantBody(t, r, `{"detail": "Not found."}`)
	}
	wantStatus(t, e.decision(mine.key, id), http.StatusOK) // the sibling's delete changed nothing
}
