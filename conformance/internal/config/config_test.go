package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMapsTheFileToTheEnvironmentAndTheEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "conformance.json")
	os.WriteFile(p, []byte(`{
  "base_url": "https://api.example.com",
  "admin_command": "ssh api facematch",
  "keys": {"live": "k1"},
  "rate_limits": "default",
  "webhooks": {"listen": "0.0.0.0:9000", "public_url": "http://suite.example.com:9000", "backoff": "1s,2s", "private_addresses": "refused"},
  "output": "results",
  "certify": true
}`), 0o644)
	file, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FACEMATCH_TARGET": "external", "FACEMATCH_BASE_URL": "https://api.example.com", "FACEMATCH_ADMIN_COMMAND": "ssh api facematch",
		"FACEMATCH_LIVE_KEY": "k1", "FACEMATCH_RATE_LIMITS": "default", "FACEMATCH_WEBHOOK_BACKOFF": "1s,2s",
		"FACEMATCH_PRIVATE_WEBHOOKS": "refused", "FACEMATCH_ARTIFACTS": filepath.Join(dir, "results"), "FACEMATCH_CERTIFY": "true",
	}
	for k, v := range want {
		if file[k] != v {
			t.Errorf("%s = %q, want %q", k, file[k], v)
		}
	}
	if _, ok := file["FACEMATCH_SANDBOX_KEY"]; ok {
		t.Error("an empty setting became a variable")
	}
	env := map[string]string{"FACEMATCH_LIVE_KEY": "from-env"}
	get := Getenv(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if get("FACEMATCH_LIVE_KEY") != "from-env" || get("FACEMATCH_BASE_URL") != "https://api.example.com" {
		t.Error("the environment does not override the file, or the file is not read")
	}
}

func TestLoadRefusesUnknownSettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"base_ulr": "https://typo.example.com"}`), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "base_ulr") {
		t.Fatalf("a misspelt setting was not named: %v", err)
	}
}
