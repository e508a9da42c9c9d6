// Package target gives the conformance suite the server it checks: a container started from the
// facematch image, a local process of bin/facematch, or an external deployment named by
// environment variables. Container and process targets can also start extra servers with other
// settings, restart them, and run the admin CLI to seed organizations, applications and keys.
package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnsupported is returned for what a target cannot do (an external server cannot be
// restarted by the suite, for instance); specs that need it are skipped with the reason.
var ErrUnsupported = errors.New("not supported by this target")

// AdminFunc runs the admin CLI (`facematch ARGS...`) on a server's data and returns its stdout.
type AdminFunc func(ctx context.Context, args ...string) ([]byte, error)

// Server is one running facematch API.
type Server interface {
	// BaseURL is scheme://host:port, without a trailing slash. It may change after Restart.
	BaseURL() string
	// Admin runs the admin CLI on the server's data, or is nil when there is no way to.
	Admin() AdminFunc
	// Restart stops the server, abruptly (SIGKILL) when crash is true, and starts it again on the
	// same data. ErrUnsupported for an external server.
	Restart(ctx context.Context, crash bool) error
	// Stop stops the server for good and removes what the suite made for it.
	Stop(ctx context.Context) error
	// DataFiles returns the files the server keeps (its --data folder), or ErrUnsupported.
	DataFiles(ctx context.Context) (map[string][]byte, error)
	// Describe says what the server is, for reports.
	Describe() string
	// LogTail is the end of the server's log, for failure reports ("" when unknown).
	LogTail() string
}

// Target is where the suite's servers come from.
type Target interface {
	// Name is container, process or external.
	Name() string
	// Main is the server every spec talks to unless it starts its own.
	Main() Server
	// Start runs an extra server with `facematch serve` flags; ErrUnsupported for external.
	Start(ctx context.Context, flags ...string) (Server, error)
	// WebhookListen is the address the suite's webhook receiver listens on and the base URL the
	// servers reach it at; ok is false when the target gives no way to receive webhooks.
	WebhookListen() (listen, publicBase string, ok bool)
	// Close stops every server the target started.
	Close(ctx context.Context) error
}

// MainFlags are the `facematch serve` flags of the main server of container and process targets:
// deliveries to the suite's receiver (a private address) allowed, and retries a second apart so
// that the retry specs take seconds, not minutes.
var MainFlags = []string{"--allow-private-webhooks", "--webhook-backoff", "1s,2s"}

// Config is what selects and describes the target, read from the environment.
type Config struct {
	Name      string // container (default), process or external
	RepoRoot  string // the facematch checkout, when the suite runs from one
	Image     string // container: the image (FACEMATCH_IMAGE, default facematch:dev)
	Bin       string // process: the server binary (FACEMATCH_BIN, default <repo>/bin/facematch)
	Models    string // process: the models folder (FACEMATCH_MODELS, default <repo>/models)
	Workers   string // container and process: --workers (FACEMATCH_SERVER_WORKERS, default 2)
	Artifacts string // where server logs go (FACEMATCH_ARTIFACTS)
	External  External
}

// External describes a server the suite does not run.
type External struct {
	BaseURL       string // FACEMATCH_BASE_URL
	AdminCommand  string // FACEMATCH_ADMIN_COMMAND: a shell command prefix running the admin CLI
	DataDir       string // FACEMATCH_DATA_DIR: the server's --data folder, readable by the suite
	WebhookListen string // FACEMATCH_WEBHOOK_LISTEN, e.g. 0.0.0.0:9000
	WebhookPublic string // FACEMATCH_WEBHOOK_PUBLIC_URL, e.g. http://suite-host:9000
}

// ConfigFromEnv reads the target's configuration; name overrides FACEMATCH_TARGET when set.
func ConfigFromEnv(name string, getenv func(string) string) Config {
	if name == "" {
		name = getenv("FACEMATCH_TARGET")
	}
	if name == "" {
		name = "container"
	}
	root := RepoRoot()
	or := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var bin, models string
	if root != "" {
		bin, models = filepath.Join(root, "bin", "facematch"), filepath.Join(root, "models")
	}
	return Config{
		Name:      name,
		RepoRoot:  root,
		Image:     or("FACEMATCH_IMAGE", "facematch:dev"),
		Bin:       or("FACEMATCH_BIN", bin),
		Models:    or("FACEMATCH_MODELS", models),
		Workers:   or("FACEMATCH_SERVER_WORKERS", "2"),
		Artifacts: or("FACEMATCH_ARTIFACTS", filepath.Join(os.TempDir(), "facematch-conformance")),
		External: External{
			BaseURL:       strings.TrimRight(getenv("FACEMATCH_BASE_URL"), "/"),
			AdminCommand:  getenv("FACEMATCH_ADMIN_COMMAND"),
			DataDir:       getenv("FACEMATCH_DATA_DIR"),
			WebhookListen: getenv("FACEMATCH_WEBHOOK_LISTEN"),
			WebhookPublic: strings.TrimRight(getenv("FACEMATCH_WEBHOOK_PUBLIC_URL"), "/"),
		},
	}
}

// New starts the target's main server (container and process) or checks the external one.
func New(ctx context.Context, cfg Config) (Target, error) {
	switch cfg.Name {
	case "container":
		return newContainerTarget(ctx, cfg)
	case "process":
		return newProcessTarget(ctx, cfg)
	case "external":
		return newExternalTarget(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown target %q: container, process or external", cfg.Name)
}

// RepoRoot is the facematch checkout holding the working directory (the folder whose go.mod
// declares github.com/facematch/facematch), or "".
func RepoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/facematch/facematch\n") {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// waitReady polls baseURL/readyz until it answers 200.
func waitReady(ctx context.Context, baseURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz not ready after %s (last error: %v)", baseURL, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
