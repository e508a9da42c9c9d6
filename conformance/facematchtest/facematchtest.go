// Package facematchtest starts the facematch server in a Docker container for tests, shaped like a
// testcontainers-go module: SDK authors point their client at BaseURL with SandboxKey and get the
// API's real validation and its sandbox answers, with nothing decoded, stored or billed.
//
//	ctr, err := facematchtest.Run(ctx, "facematch:dev")   // Run(ctx, image, options...)
//	defer ctr.Terminate(ctx)
//	url, _ := ctr.BaseURL(ctx)                             // accessors: BaseURL, SandboxKey, Sandbox,
//	// POST url+"/v3/face-match/" with "x-api-key: "+ctr.SandboxKey()   LiveKey, Live, Admin
//
// The module's shape:
//   - Run(ctx, image, opts...) starts the image ("" means $FACEMATCH_IMAGE, else DefaultImage) and
//     waits for /readyz. By default it runs `serve --sandbox-only --workers 1`: no models are
//     loaded and it is ready in about a second; its sandbox key is drawn here and handed to the
//     container as FACEMATCH_SANDBOX_KEY (the container's environment, never this process's).
//   - Options: WithLiveKey(credits) runs the full server (`serve --workers 1`, with the matcher)
//     and seeds a live tenant; WithMatcher() runs the full server without seeding one;
//     WithServeFlags(flags...) adds serve flags. Generic testcontainers customizers (WithEnv,
//     WithLogConsumers, ...) mix with them.
//   - Accessors: BaseURL, SandboxKey and Sandbox, LiveKey and Live, Admin (the admin CLI inside
//     the container), NewTenant, and the embedded *testcontainers.DockerContainer.
//
// The image is the repository's Dockerfile (`make image`). Without a reachable Ryuk reaper image,
// set TESTCONTAINERS_RYUK_DISABLED=true and always call Terminate.
package facematchtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"
)

// DefaultImage is the tag `make image` gives the server image.
const DefaultImage = "facematch:dev"

// ImageFromEnv is the image FACEMATCH_IMAGE names, else DefaultImage: what Run starts when
// given no image, so that CI can test another build without changing the tests.
func ImageFromEnv() string {
	if img := os.Getenv("FACEMATCH_IMAGE"); img != "" {
		return img
	}
	return DefaultImage
}

// Port is the container port the server listens on.
const Port = "8080/tcp"

// HostGateway is the name under which the container reaches the Docker host, for webhook
// destinations served by the test process (the server must then run with
// --allow-private-webhooks, see WithServeFlags).
const HostGateway = "host.docker.internal"

// serveArgs is the command of the full server; the sandbox-only one adds --sandbox-only. One
// worker: a test server needs no more, and each worker holds its own copy of the models.
var serveArgs = []string{"serve", "--addr", "0.0.0.0:8080", "--data", "/data", "--models", "/models", "--workers", "1"}

// Container is a running facematch server with a sandbox key, and a live key when asked for.
type Container struct {
	*testcontainers.DockerContainer
	sandbox Tenant
	live    *Tenant
}

// Tenant is an organization with one application and one API key, as the admin CLI made them.
type Tenant struct {
	OrgID, AppID, KeyID, Key string
}

// options are the module's own settings, carried by Option values among the customizers.
type options struct {
	liveCredits *int64
	matcher     bool
	serveFlags  []string
}

// Option is a setting of this module; it is also a testcontainers.ContainerCustomizer, so it
// mixes with the generic ones (testcontainers.WithEnv, WithLogConsumers, ...).
type Option func(*options)

// Customize does nothing to the request: Run applies Options itself.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

// WithLiveKey also seeds a live organization holding credits, with an application and a key
// (LiveKey). Live calls run the real matcher, store sessions and consume credits.
func WithLiveKey(credits int64) Option {
	return func(o *options) { o.liveCredits = &credits }
}

// WithMatcher runs the full server, models and matcher loaded, so that live keys work (tenants
// made with NewTenant), instead of the sandbox-only server.
func WithMatcher() Option {
	return func(o *options) { o.matcher = true }
}

// WithServeFlags adds flags to `facematch serve`, e.g. "--allow-private-webhooks",
// "--webhook-backoff", "1s,2s", "--write-limit", "10".
func WithServeFlags(flags ...string) Option {
	return func(o *options) { o.serveFlags = append(o.serveFlags, flags...) }
}

// Run starts the image (when img is empty: $FACEMATCH_IMAGE, else DefaultImage) with a sandbox
// key of its own, and waits for /readyz; with WithLiveKey it also seeds a live tenant through the
// admin CLI inside the container. On error the returned Container, when not nil, still needs
// Terminate.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	if img == "" {
		img = ImageFromEnv()
	}
	var settings options
	for _, opt := range opts {
		if o, ok := opt.(Option); ok {
			o(&settings)
		}
	}
	sandboxKey, keyID, err := newSandboxKey()
	if err != nil {
		return nil, err
	}
	args := append([]string{}, serveArgs...)
	if settings.liveCredits == nil && !settings.matcher {
		args = append(args, "--sandbox-only")
	}
	base := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(Port),
		testcontainers.WithCmd(append(args, settings.serveFlags...)...),
		testcontainers.WithEnv(map[string]string{"FACEMATCH_SANDBOX_KEY": sandboxKey}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ExtraHosts = append(hc.ExtraHosts, HostGateway+":host-gateway")
		}),
		testcontainers.WithWaitStrategy(readyz{timeout: 2 * time.Minute}),
	}
	dc, err := testcontainers.Run(ctx, img, append(base, opts...)...)
	var c *Container
	if dc != nil {
		c = &Container{DockerContainer: dc}
	}
	if err != nil {
		return c, fmt.Errorf("facematchtest: start %s: %w", img, err)
	}
	c.sandbox = Tenant{KeyID: keyID, Key: sandboxKey}
	if settings.liveCredits != nil {
		live, err := c.NewTenant(ctx, "live", *settings.liveCredits, false)
		if err != nil {
			return c, err
		}
		c.live = &live
	}
	return c, nil
}

// newSandboxKey draws a sandbox key in the server's format, fm_sandbox_<16 hex>_<64 hex>, and
// returns it with its id.
func newSandboxKey() (key, id string, err error) {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("facematchtest: draw a sandbox key: %w", err)
	}
	id = hex.EncodeToString(b[:8])
	return "fm_sandbox_" + id + "_" + hex.EncodeToString(b[8:]), id, nil
}

// host is the address at which this process reaches the container's published ports. When the
// Docker daemon shares this network namespace (its docker0 bridge is a local interface) that is
// 127.0.0.1, even where testcontainers, seeing it runs in a container, would guess the default
// gateway; TESTCONTAINERS_HOST_OVERRIDE, when set, wins. Nothing is written to the process's
// environment.
func host(ctx context.Context, t interface {
	Host(context.Context) (string, error)
}) (string, error) {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
		if _, err := net.InterfaceByName("docker0"); err == nil {
			return "127.0.0.1", nil
		}
	}
	return t.Host(ctx)
}

// readyz waits until GET /readyz on the published port answers 200.
type readyz struct{ timeout time.Duration }

// WaitUntilReady polls /readyz every 100 ms until it answers 200 or the timeout passes.
func (r readyz) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var last error
	for {
		if err := func() error {
			h, err := host(ctx, target)
			if err != nil {
				return err
			}
			p, err := target.MappedPort(ctx, Port)
			if err != nil {
				return err
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(h, p.Port())+"/readyz", nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("/readyz answered %d", res.StatusCode)
			}
			return nil
		}(); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("facematchtest: not ready within %v: %v", r.timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// BaseURL is the server's address as the test process reaches it, e.g. http://127.0.0.1:32768.
// It changes when the container is stopped and started again.
func (c *Container) BaseURL(ctx context.Context) (string, error) {
	h, err := host(ctx, c)
	if err != nil {
		return "", fmt.Errorf("facematchtest: host: %w", err)
	}
	p, err := c.MappedPort(ctx, Port)
	if err != nil {
		return "", fmt.Errorf("facematchtest: port: %w", err)
	}
	return "http://" + net.JoinHostPort(h, p.Port()), nil
}

// SandboxKey is the container's sandbox key (fm_sandbox_...).
func (c *Container) SandboxKey() string { return c.sandbox.Key }

// Sandbox is the sandbox tenant: its key and key id (the server made its organization and
// application, named "Sandbox"; `facematch org list` through Admin shows them).
func (c *Container) Sandbox() Tenant { return c.sandbox }

// LiveKey is the seeded live key, or "" without WithLiveKey.
func (c *Container) LiveKey() string {
	if c.live == nil {
		return ""
	}
	return c.live.Key
}

// Live is the seeded live tenant, or nil without WithLiveKey.
func (c *Container) Live() *Tenant { return c.live }

// Admin runs the admin CLI inside the container (`facematch ARGS...`, on the server's data
// folder) and returns what it printed on stdout; a non-zero exit is an error carrying stderr.
func (c *Container) Admin(ctx context.Context, args ...string) ([]byte, error) {
	code, r, err := c.Exec(ctx, append([]string{"/facematch"}, args...), tcexec.WithEnv([]string{"FACEMATCH_DATA=/data"}))
	if err != nil {
		return nil, fmt.Errorf("facematchtest: exec facematch %v: %w", args, err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, r); err != nil && err != io.EOF {
		return nil, fmt.Errorf("facematchtest: read output of facematch %v: %w", args, err)
	}
	if code != 0 {
		return stdout.Bytes(), fmt.Errorf("facematchtest: facematch %v exited %d: %s", args, code, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// NewTenant creates an organization with credits, a live or sandbox application in it and a key.
func (c *Container) NewTenant(ctx context.Context, name string, credits int64, sandbox bool) (Tenant, error) {
	return NewTenant(ctx, c.Admin, name, credits, sandbox)
}

// AdminFunc runs the admin CLI with args and returns its stdout.
type AdminFunc func(ctx context.Context, args ...string) ([]byte, error)

// NewTenant creates an organization with credits, an application and a key through any admin
// CLI runner: the container's, a local binary's, or a remote one's.
func NewTenant(ctx context.Context, admin AdminFunc, name string, credits int64, sandbox bool) (Tenant, error) {
	var t Tenant
	var org, app, key struct{ ID, Key string }
	if err := adminJSON(ctx, admin, &org, "org", "create", "--name", name, "--credits", fmt.Sprint(credits)); err != nil {
		return t, err
	}
	appArgs := []string{"app", "create", "--org", org.ID, "--name", name}
	if sandbox {
		appArgs = append(appArgs, "--sandbox")
	}
	if err := adminJSON(ctx, admin, &app, appArgs...); err != nil {
		return t, err
	}
	if err := adminJSON(ctx, admin, &key, "key", "create", "--app", app.ID); err != nil {
		return t, err
	}
	return Tenant{OrgID: org.ID, AppID: app.ID, KeyID: key.ID, Key: key.Key}, nil
}

// adminJSON runs an admin command and decodes the JSON object it prints.
func adminJSON(ctx context.Context, admin AdminFunc, v any, args ...string) error {
	out, err := admin(ctx, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("facematchtest: facematch %v printed %q: %w", args, out, err)
	}
	return nil
}
