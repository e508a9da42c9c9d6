// Package config reads the one file an outsider writes to run the suite against their server:
// the base URL, the keys or the admin command that provisions them, the webhook settings, the
// expected failures and the output folder. Every setting is also an environment variable, which
// overrides the file, so that CI can change one value without another file.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// File is the configuration file, JSON.
type File struct {
	Target       string `json:"target"`        // FACEMATCH_TARGET: external (default for a file), process or container
	BaseURL      string `json:"base_url"`      // FACEMATCH_BASE_URL
	AdminCommand string `json:"admin_command"` // FACEMATCH_ADMIN_COMMAND: provisions keys, checks balances
	DataDir      string `json:"data_dir"`      // FACEMATCH_DATA_DIR: the server's data, readable by the suite
	Keys         struct {
		Live      string `json:"live"`       // FACEMATCH_LIVE_KEY
		Sandbox   string `json:"sandbox"`    // FACEMATCH_SANDBOX_KEY
		OtherApp  string `json:"other_app"`  // FACEMATCH_OTHER_APP_KEY
		NoCredit  string `json:"no_credit"`  // FACEMATCH_NO_CREDIT_KEY
		Revoked   string `json:"revoked"`    // FACEMATCH_REVOKED_KEY
		RateLimit string `json:"rate_limit"` // FACEMATCH_RATE_LIMIT_KEY
	} `json:"keys"`
	RateLimits string `json:"rate_limits"` // FACEMATCH_RATE_LIMITS: "default" or "WRITE,READ"
	Webhooks   struct {
		Listen           string `json:"listen"`            // FACEMATCH_WEBHOOK_LISTEN
		PublicURL        string `json:"public_url"`        // FACEMATCH_WEBHOOK_PUBLIC_URL
		Backoff          string `json:"backoff"`           // FACEMATCH_WEBHOOK_BACKOFF
		PrivateAddresses string `json:"private_addresses"` // FACEMATCH_PRIVATE_WEBHOOKS: allowed or refused
	} `json:"webhooks"`
	Photos           string `json:"photos"`            // FACEMATCH_FACES: a folder laid out like the faces fixtures
	ExpectedFailures string `json:"expected_failures"` // FACEMATCH_EXPECTED_FAILURES
	Output           string `json:"output"`            // FACEMATCH_ARTIFACTS: the results bundle
	Certify          bool   `json:"certify"`           // FACEMATCH_CERTIFY
}

// Load reads a configuration file and returns its settings as environment variables. Paths are
// relative to the file's folder.
func Load(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	target := f.Target
	if target == "" {
		target = "external"
	}
	env := map[string]string{
		"FACEMATCH_TARGET":             target,
		"FACEMATCH_BASE_URL":           f.BaseURL,
		"FACEMATCH_ADMIN_COMMAND":      f.AdminCommand,
		"FACEMATCH_DATA_DIR":           abs(f.DataDir),
		"FACEMATCH_LIVE_KEY":           f.Keys.Live,
		"FACEMATCH_SANDBOX_KEY":        f.Keys.Sandbox,
		"FACEMATCH_OTHER_APP_KEY":      f.Keys.OtherApp,
		"FACEMATCH_NO_CREDIT_KEY":      f.Keys.NoCredit,
		"FACEMATCH_REVOKED_KEY":        f.Keys.Revoked,
		"FACEMATCH_RATE_LIMIT_KEY":     f.Keys.RateLimit,
		"FACEMATCH_RATE_LIMITS":        f.RateLimits,
		"FACEMATCH_WEBHOOK_LISTEN":     f.Webhooks.Listen,
		"FACEMATCH_WEBHOOK_PUBLIC_URL": f.Webhooks.PublicURL,
		"FACEMATCH_WEBHOOK_BACKOFF":    f.Webhooks.Backoff,
		"FACEMATCH_PRIVATE_WEBHOOKS":   f.Webhooks.PrivateAddresses,
		"FACEMATCH_FACES":              abs(f.Photos),
		"FACEMATCH_EXPECTED_FAILURES":  abs(f.ExpectedFailures),
		"FACEMATCH_ARTIFACTS":          abs(f.Output),
	}
	if f.Certify {
		env["FACEMATCH_CERTIFY"] = strconv.FormatBool(true)
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env, nil
}

// Getenv looks a setting up in the environment first, then in the file's settings.
func Getenv(file map[string]string, lookup func(string) (string, bool)) func(string) string {
	return func(name string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		return file[name]
	}
}
