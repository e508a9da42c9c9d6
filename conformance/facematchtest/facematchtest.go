// Package facematchtest starts the facematch server in a Docker container for tests, in the style
// of a testcontainers-go module: SDK authors point their client at BaseURL with SandboxKey and get
// the API's real validation and its fixed sandbox answers, with nothing decoded, stored or billed.
//
//	ctr, err := facematchtest.Run(ctx, "facematch:dev")
//	defer ctr.Terminate(ctx)
//	url, _ := ctr.BaseURL(ctx)
//	// POST url+"/v3/face-match/" with "x-api-key: "+ctr.SandboxKey()
//
// The image is the repository's Dockerfile (`make image`). Without a reachable Ryuk reaper image,
// set TESTCONTAINERS_RYUK_DISABLED=true and always call Terminate.
package facematchtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// serveArgs is the image's default command.
var serveArgs = []string{"serve", "--addr", "0.0.0.0:8080", "--data", "/data", "--models", "/models"}

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

// WithServeFlags adds flags to `facematch serve`, e.g. "--allow-private-webhooks",
// "--webhook-backoff", "1s,2s", "--write-limit", "10".
func WithServeFlags(flags ...string) Option {
	return func(o *options) { o.serveFlags = append(o.serveFlags, flags...) }
}

// Run starts the image (when img is empty: $FACEMATCH_IMAGE, else DefaultImage), waits for /readyz, and seeds a sandbox
// organization, application and key through the admin CLI inside the container. On error the
// returned Container, when not nil, still needs Terminate.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	if img == "" {
		img = ImageFromEnv()
	}
	useLocalDaemonHost()
	var settings options
	for _, opt := range opts {
		if o, ok := opt.(Option); ok {
			o(&settings)
		}
	}
	base := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(Port),
		testcontainers.WithCmd(append(append([]string{}, serveArgs...), settings.serveFlags...)...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ExtraHosts = append(hc.ExtraHosts, HostGateway+":host-gateway")
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(Port).WithStartupTimeout(2 * time.Minute)),
	}
	dc, err := testcontainers.Run(ctx, img, append(base, opts...)...)
	var c *Container
	if dc != nil {
		c = &Container{DockerContainer: dc}
	}
	if err != nil {
		return c, fmt.Errorf("facematchtest: start %s: %w", img, err)
	}
	if c.sandbox, err = c.NewTenant(ctx, "sandbox", 0, true); err != nil {
		return c, err
	}
	if settings.liveCredits != nil {
		live, err := c.NewTenant(ctx, "live", *settings.liveCredits, false)
		if err != nil {
			return c, err
		}
		c.live = &live
	}
	return c, nil
}

// useLocalDaemonHost makes testcontainers reach published ports on 127.0.0.1 when the Docker
// daemon shares this network namespace (its docker0 bridge is a local interface) even though
// the process runs inside a container: testcontainers would otherwise guess the default gateway.
// TESTCONTAINERS_HOST_OVERRIDE, when set, wins.
func useLocalDaemonHost() {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set {
		return
	}
	if _, err := net.InterfaceByName("docker0"); err == nil {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
}

// BaseURL is the server's address as the test process reaches it, e.g. http://127.0.0.1:32768.
// It changes when the container is stopped and started again.
func (c *Container) BaseURL(ctx context.Context) (string, error) {
	ep, err := c.PortEndpoint(ctx, Port, "http")
	if err != nil {
		return "", fmt.Errorf("facematchtest: endpoint: %w", err)
	}
	return ep, nil
}

// SandboxKey is the seeded sandbox key (fm_sandbox_...).
func (c *Container) SandboxKey() string { return c.sandbox.Key }

// Sandbox is the seeded sandbox tenant.
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
