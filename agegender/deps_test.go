package agegender_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The network is plain Go: neither the package nor anything it links uses cgo or HTTP.
func TestLinksNoCgoAndNoHTTP(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	deps := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(deps) < 5 {
		t.Fatalf("go list printed %d packages", len(deps))
	}
	for _, line := range deps {
		path, cgoFiles, _ := strings.Cut(line, " ")
		if cgoFiles != "0" || path == "runtime/cgo" {
			t.Errorf("agegender links %s, which uses cgo", path)
		}
		if path == "net/http" || path == "net" {
			t.Errorf("agegender links %s", path)
		}
	}
}
