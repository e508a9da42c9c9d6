package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// processTarget runs bin/facematch serve on temporary data folders.
type processTarget struct {
	cfg     Config
	main    *processServer
	mu      sync.Mutex
	servers []*processServer
}

func newProcessTarget(ctx context.Context, cfg Config) (*processTarget, error) {
	if cfg.Bin == "" {
		return nil, fmt.Errorf("process target: set FACEMATCH_BIN to the server binary (no facematch checkout around the working directory)")
	}
	if _, err := os.Stat(cfg.Bin); err != nil {
		return nil, fmt.Errorf("process target: %v (make build, or set FACEMATCH_BIN)", err)
	}
	if _, err := os.Stat(cfg.Models); err != nil {
		return nil, fmt.Errorf("process target: %v (make models, or set FACEMATCH_MODELS)", err)
	}
	t := &processTarget{cfg: cfg}
	s, err := t.Start(ctx, MainFlags...)
	if err != nil {
		t.Close(ctx)
		return nil, err
	}
	t.main = s.(*processServer)
	return t, nil
}

func (t *processTarget) Name() string { return "process" }

func (t *processTarget) Main() Server { return t.main }

func (t *processTarget) WebhookListen() (string, string, bool) {
	return "127.0.0.1:0", "", true
}

func (t *processTarget) Start(ctx context.Context, flags ...string) (Server, error) {
	data, err := os.MkdirTemp("", "facematch-conformance-data-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(t.cfg.Artifacts, 0o755); err != nil {
		return nil, err
	}
	s := &processServer{
		bin: t.cfg.Bin, models: t.cfg.Models, data: data, workers: t.cfg.Workers, flags: flags,
		logPath: filepath.Join(t.cfg.Artifacts, "server-"+filepath.Base(data)+".log"),
	}
	t.mu.Lock()
	t.servers = append(t.servers, s)
	t.mu.Unlock()
	if err := s.start(ctx); err != nil {
		return s, err
	}
	return s, nil
}

func (t *processTarget) Close(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, s := range t.servers {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	t.servers = nil
	if len(errs) > 0 {
		return fmt.Errorf("process target: %v", errs)
	}
	return nil
}

// processServer is one `facematch serve` child process.
type processServer struct {
	bin, models, data, workers string
	flags                      []string
	logPath                    string

	mu      sync.Mutex
	addr    string // host:port, fixed by the first start so restarts keep the URL
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
}

// childEnv is the environment of the server and CLI processes: the suite's own FACEMATCH_*
// variables would otherwise be read as flags.
func childEnv(data string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FACEMATCH_") {
			env = append(env, kv)
		}
	}
	return append(env, "FACEMATCH_DATA="+data)
}

func (s *processServer) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := append([]string{"serve", "--addr", addr, "--data", s.data, "--models", s.models, "--workers", s.workers}, s.flags...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = childEnv(s.data)
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return err
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	listening := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			logFile.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(logFile, stderr)
	}()
	exited := make(chan struct{})
	go func() {
		<-drained // Wait closes the pipe: read it to the end first
		cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	select {
	case a := <-listening:
		s.addr = a
	case <-exited:
		return fmt.Errorf("%s serve exited before listening; log %s:\n%s", s.bin, s.logPath, s.logTail())
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("%s serve did not log \"listening\" in 2 minutes; log %s", s.bin, s.logPath)
	case <-ctx.Done():
		return ctx.Err()
	}
	return waitReady(ctx, "http://"+s.addr, 2*time.Minute)
}

func (s *processServer) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

func (s *processServer) Admin() AdminFunc {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, s.bin, args...)
		cmd.Env = childEnv(s.data)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.Bytes(), fmt.Errorf("facematch %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return stdout.Bytes(), nil
	}
}

// halt ends the process: SIGKILL when crash, else SIGTERM and up to 30 s for it to finish.
func (s *processServer) halt(crash bool) error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if crash {
		cmd.Process.Kill()
	} else {
		cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	return nil
}

func (s *processServer) Restart(ctx context.Context, crash bool) error {
	if err := s.halt(crash); err != nil {
		return err
	}
	return s.start(ctx)
}

func (s *processServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	s.halt(false)
	return os.RemoveAll(s.data)
}

func (s *processServer) DataFiles(ctx context.Context) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(s.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.data, path)
		files[rel] = b
		return nil
	})
	return files, err
}

func (s *processServer) Describe() string {
	return fmt.Sprintf("process %s serve %s (data %s, log %s)", s.bin, strings.Join(s.flags, " "), s.data, s.logPath)
}

func (s *processServer) LogTail() string { return s.logTail() }

func (s *processServer) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	return tail(string(b), 20)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
