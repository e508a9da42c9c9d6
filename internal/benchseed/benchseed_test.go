package benchseed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Seed makes, through the real binary's admin commands, a live and a sandbox key.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "facematch")
	build := exec.Command("go", "build", "-o", bin, "github.com/facematch/facematch/cmd/facematch")
	build.Env = os.Environ()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	live, sandbox, err := Seed(bin, 10, "--data", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(live, "fm_live_") || !strings.HasPrefix(sandbox, "fm_sandbox_") {
		t.Fatalf("keys %q %q", live, sandbox)
	}
}
