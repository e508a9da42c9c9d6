package cli

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch"
)

const testSandboxKey = "fm_sandbox_00112233445566aa_" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// sandboxEnv is an environment whose models folder does not exist: a sandbox-only server must
// not need it.
func sandboxEnv(t *testing.T, kv ...string) Env {
	return env(append([]string{"FACEMATCH_MODELS", filepath.Join(t.TempDir(), "no-models")}, kv...)...)
}

// serve --sandbox-only starts without models; the key of --sandbox-key (or FACEMATCH_SANDBOX_KEY)
// is a valid sandbox key from the first start and stays so across restarts; live keys get a 503
// that says why, and spend no credit.
func TestSandboxOnly(t *testing.T) {
	data := t.TempDir()
	srv := startServeEnv(t, sandboxEnv(t, "FACEMATCH_SANDBOX_KEY", testSandboxKey), "--data", data, "--sandbox-only")
	status, body, _ := send(t, faceMatchRequest(t, srv.base, testSandboxKey, "vendor_data", "sdk-test"))
	if status != 200 || !strings.Contains(body, `"Approved"`) || !strings.Contains(body, `"sdk-test"`) {
		t.Fatalf("sandbox key: %d %s", status, body)
	}
	var listening map[string]any
	for _, l := range srv.logs.lines() {
		if l["msg"] == "listening" {
			listening = l
		}
	}
	if listening["sandbox_only"] != true || listening["workers"] != 0.0 {
		t.Fatalf("listening line %v", listening)
	}

	org := admin(t, data, "org", "create", "--name", "Live", "--credits", "3")
	app := admin(t, data, "app", "create", "--org", org["id"].(string), "--name", "web")
	key := admin(t, data, "key", "create", "--app", app["id"].(string))
	status, body, _ = send(t, faceMatchRequest(t, srv.base, key["key"].(string)))
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "sandbox keys only") {
		t.Fatalf("live key on a sandbox-only server: %d %s", status, body)
	}
	if got := admin(t, data, "org", "show", "--id", org["id"].(string)); got["credits"] != 3.0 {
		t.Fatalf("credits after a 503: %v", got)
	}
	if err := srv.close(); err != nil {
		t.Fatal(err)
	}

	// A restart with the same key: still valid, created once.
	srv = startServeEnv(t, sandboxEnv(t), "--data", data, "--sandbox-only", "--sandbox-key", testSandboxKey)
	if status, body, _ := send(t, faceMatchRequest(t, srv.base, testSandboxKey)); status != 200 {
		t.Fatalf("after restart: %d %s", status, body)
	}
	out, _, err := runCLI(t, env(), "org", "list", "--data", data)
	if err != nil || strings.Count(out, `"name":"Sandbox"`) != 1 {
		t.Fatalf("org list after two starts with the key: %v\n%s", err, out)
	}
	srv.close()

	// The same key id with another secret is refused, and so is a revoked key.
	other := testSandboxKey[:len(testSandboxKey)-1] + "0"
	_, _, err = runCLI(t, sandboxEnv(t), "serve", "--addr", "127.0.0.1:0", "--data", data, "--sandbox-only", "--sandbox-key", other)
	if err == nil || !strings.Contains(err.Error(), "belongs to another key") || ExitCode(err) != 1 {
		t.Fatalf("same id, other secret: %v", err)
	}
	id, _, _ := facematch.ParseAPIKey(testSandboxKey)
	admin(t, data, "key", "revoke", "--id", id)
	_, _, err = runCLI(t, sandboxEnv(t), "serve", "--addr", "127.0.0.1:0", "--data", data, "--sandbox-only", "--sandbox-key", testSandboxKey)
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked key: %v", err)
	}
}

// Without --sandbox-only, serve still needs its models and says which are missing.
func TestServeNeedsModelsUnlessSandboxOnly(t *testing.T) {
	_, _, err := runCLI(t, sandboxEnv(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no-models") {
		t.Fatalf("serve without models: %v", err)
	}
}

// --metrics-addr serves /metrics on a listener of its own and takes it off the API's port.
func TestMetricsAddr(t *testing.T) {
	srv := startServeEnv(t, sandboxEnv(t), "--data", t.TempDir(), "--sandbox-only", "--metrics-addr", "127.0.0.1:0")
	var metricsAddr string
	for _, l := range srv.logs.lines() {
		if l["msg"] == "listening" {
			metricsAddr, _ = l["metrics_addr"].(string)
		}
	}
	if metricsAddr == "" {
		t.Fatal("no metrics_addr in the listening line")
	}
	if status, _, _ := send(t, mustRequest(t, http.MethodGet, srv.base+"/metrics")); status != http.StatusNotFound {
		t.Fatalf("/metrics on the API's port: %d", status)
	}
	status, body, _ := send(t, mustRequest(t, http.MethodGet, "http://"+metricsAddr+"/metrics"))
	if status != 200 || !strings.Contains(body, "facematch_http_requests_total") {
		t.Fatalf("/metrics on --metrics-addr: %d %.200s", status, body)
	}
	if status, _, _ := send(t, mustRequest(t, http.MethodGet, "http://"+metricsAddr+"/readyz")); status != http.StatusNotFound {
		t.Fatalf("the metrics listener serves more than /metrics: %d", status)
	}

	// Without the flag, /metrics stays on the API's port.
	plain := startServeEnv(t, sandboxEnv(t), "--data", t.TempDir(), "--sandbox-only")
	if status, _, _ := send(t, mustRequest(t, http.MethodGet, plain.base+"/metrics")); status != 200 {
		t.Fatalf("/metrics without --metrics-addr: %d", status)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
