package target

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/facematch/facematch/conformance/facematchtest"
)

// containerTarget runs the facematch image with testcontainers-go. No reaper is used (none can
// be pulled here): the target removes every container it started in Close.
type containerTarget struct {
	cfg     Config
	main    *containerServer
	gateway string // the address of the Docker host on the containers' network

	mu      sync.Mutex
	servers []*containerServer
}

func newContainerTarget(ctx context.Context, cfg Config) (*containerTarget, error) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("container target: Docker: %w", err)
	}
	_, err = cli.ImageInspect(ctx, cfg.Image)
	cli.Close()
	if err != nil {
		return nil, fmt.Errorf("container target: image %s: %w (make image, or set FACEMATCH_IMAGE)", cfg.Image, err)
	}
	t := &containerTarget{cfg: cfg}
	s, err := t.Start(ctx, MainFlags...)
	if err != nil {
		t.Close(ctx)
		return nil, err
	}
	t.main = s.(*containerServer)
	inspect, err := t.main.ctr.Inspect(ctx)
	if err != nil {
		t.Close(ctx)
		return nil, err
	}
	for _, n := range inspect.NetworkSettings.Networks {
		if n != nil && n.Gateway.IsValid() {
			t.gateway = n.Gateway.String()
			break
		}
	}
	if t.gateway == "" {
		t.Close(ctx)
		return nil, errors.New("container target: the container's network has no gateway to reach the suite's webhook receiver")
	}
	return t, nil
}

func (t *containerTarget) Name() string { return "container" }

func (t *containerTarget) Main() Server { return t.main }

// WebhookListen listens on the Docker host's address on the containers' bridge network, which
// the containers reach and the outside does not.
func (t *containerTarget) WebhookListen() (string, string, bool) {
	return t.gateway + ":0", "", true
}

func (t *containerTarget) Start(ctx context.Context, flags ...string) (Server, error) {
	all := append([]string{"--workers", t.cfg.Workers}, flags...)
	ctr, err := facematchtest.Run(ctx, t.cfg.Image, facematchtest.WithMatcher(), facematchtest.WithServeFlags(all...))
	s := &containerServer{image: t.cfg.Image, flags: all}
	if ctr != nil {
		s.ctr = ctr
		t.mu.Lock()
		t.servers = append(t.servers, s)
		t.mu.Unlock()
	}
	if err != nil {
		return s, err
	}
	if err := s.refresh(ctx); err != nil {
		return s, err
	}
	return s, nil
}

func (t *containerTarget) Close(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, s := range t.servers {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	t.servers = nil
	return errors.Join(errs...)
}

// containerServer is one facematch container.
type containerServer struct {
	image string
	flags []string
	ctr   *facematchtest.Container

	mu      sync.Mutex
	baseURL string
	stopped bool
}

// refresh reads the published port again: it changes when the container restarts.
func (s *containerServer) refresh(ctx context.Context) error {
	u, err := s.ctr.BaseURL(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.baseURL = u
	s.mu.Unlock()
	return nil
}

func (s *containerServer) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

func (s *containerServer) Admin() AdminFunc { return s.ctr.Admin }

func (s *containerServer) Restart(ctx context.Context, crash bool) error {
	if crash {
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			return err
		}
		_, err = cli.ContainerKill(ctx, s.ctr.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"})
		cli.Close()
		if err != nil {
			return fmt.Errorf("kill %s: %w", s.ctr.GetContainerID(), err)
		}
		// Wait for the engine to see it exited before starting it again.
		for i := 0; i < 100; i++ {
			if st, err := s.ctr.State(ctx); err == nil && !st.Running {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	} else {
		timeout := 30 * time.Second
		if err := s.ctr.Stop(ctx, &timeout); err != nil {
			return err
		}
	}
	if err := s.ctr.Start(ctx); err != nil {
		return fmt.Errorf("start %s again: %w", s.ctr.GetContainerID(), err)
	}
	if err := s.refresh(ctx); err != nil {
		return err
	}
	return waitReady(ctx, s.BaseURL(), 2*time.Minute)
}

func (s *containerServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped || s.ctr == nil {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	return s.ctr.Terminate(ctx)
}

func (s *containerServer) DataFiles(ctx context.Context) (map[string][]byte, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	res, err := cli.CopyFromContainer(ctx, s.ctr.GetContainerID(), client.CopyFromContainerOptions{SourcePath: "/data"})
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(path.Clean(h.Name), "data/")] = b
	}
}

func (s *containerServer) Describe() string {
	id := ""
	if s.ctr != nil {
		id = s.ctr.GetContainerID()
		if len(id) > 12 {
			id = id[:12]
		}
	}
	return fmt.Sprintf("container %s of %s serve %s", id, s.image, strings.Join(s.flags, " "))
}

func (s *containerServer) LogTail() string {
	if s.ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := s.ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return tail(string(b), 20)
}
