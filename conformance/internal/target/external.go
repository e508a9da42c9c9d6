package target

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// externalTarget is a server the suite does not run: only its URL and, optionally, a command
// running its admin CLI and its data folder.
type externalTarget struct {
	cfg  Config
	main *externalServer
}

func newExternalTarget(ctx context.Context, cfg Config) (*externalTarget, error) {
	if cfg.External.BaseURL == "" {
		return nil, fmt.Errorf("external target: set FACEMATCH_BASE_URL (e.g. https://facematch.example.com)")
	}
	if err := waitReady(ctx, cfg.External.BaseURL, 30*time.Second); err != nil {
		return nil, fmt.Errorf("external target: %w", err)
	}
	return &externalTarget{cfg: cfg, main: &externalServer{ext: cfg.External}}, nil
}

func (t *externalTarget) Name() string { return "external" }

func (t *externalTarget) Main() Server { return t.main }

func (t *externalTarget) Start(context.Context, ...string) (Server, error) {
	return nil, fmt.Errorf("starting another server: %w", ErrUnsupported)
}

// WebhookListen is FACEMATCH_WEBHOOK_LISTEN and FACEMATCH_WEBHOOK_PUBLIC_URL; the public URL may
// be left out when the server reaches the listening address itself.
func (t *externalTarget) WebhookListen() (string, string, bool) {
	e := t.cfg.External
	if e.WebhookListen == "" {
		return "", "", false
	}
	// Without a public URL the server reaches the receiver at the address it listens on.
	return e.WebhookListen, e.WebhookPublic, true
}

func (t *externalTarget) Close(context.Context) error { return nil }

type externalServer struct{ ext External }

func (s *externalServer) BaseURL() string { return s.ext.BaseURL }

// Admin runs FACEMATCH_ADMIN_COMMAND followed by the arguments through sh, e.g.
// "docker exec my-facematch /facematch" or "ssh api-host facematch --data /srv/facematch".
func (s *externalServer) Admin() AdminFunc {
	if s.ext.AdminCommand == "" {
		return nil
	}
	return func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", s.ext.AdminCommand + ` "$@"`, "facematch-admin"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.Bytes(), fmt.Errorf("%s %s: %v: %s", s.ext.AdminCommand, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return stdout.Bytes(), nil
	}
}

func (s *externalServer) Restart(context.Context, bool) error {
	return fmt.Errorf("restarting the server: %w", ErrUnsupported)
}

func (s *externalServer) Stop(context.Context) error { return nil }

func (s *externalServer) DataFiles(context.Context) (map[string][]byte, error) {
	if s.ext.DataDir == "" {
		return nil, fmt.Errorf("reading the server's data (set FACEMATCH_DATA_DIR): %w", ErrUnsupported)
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(s.ext.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.ext.DataDir, path)
		files[rel] = b
		return nil
	})
	return files, err
}

func (s *externalServer) Describe() string { return "external server " + s.ext.BaseURL }

func (s *externalServer) LogTail() string { return "" }
