package facematchtest_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/conformance/facematchtest"
)

// Run starts the sandbox-only server with a key of its own and leaves this process's environment
// as it found it; the admin CLI inside the container sees the tenant the key belongs to.
func TestRunSandboxOnly(t *testing.T) {
	ctx := context.Background()
	before := os.Environ()
	ctr, err := facematchtest.Run(ctx, "")
	if ctr != nil {
		t.Cleanup(func() { ctr.Terminate(ctx) })
	}
	if err != nil {
		t.Fatal(err)
	}
	after := os.Environ()
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("Run changed the process environment")
	}
	key := ctr.SandboxKey()
	if !strings.HasPrefix(key, "fm_sandbox_") || len(key) != len("fm_sandbox_")+16+1+64 || ctr.Sandbox().KeyID != key[11:27] {
		t.Fatalf("sandbox key %q, tenant %+v", key, ctr.Sandbox())
	}
	if ctr.LiveKey() != "" || ctr.Live() != nil {
		t.Fatal("a live tenant without WithLiveKey")
	}
	out, err := ctr.Admin(ctx, "org", "list")
	if err != nil || !strings.Contains(string(out), `"Sandbox"`) {
		t.Fatalf("org list: %s, %v", out, err)
	}
	base, err := ctr.BaseURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(base + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
}
