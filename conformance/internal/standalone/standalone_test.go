// Package standalone proves that the conformance module stands alone: an outside module, which
// has no checkout of this repository, can `go install` the suite's commands and `go get`
// facematchtest at a version of this tree. The tree is published as a pseudo-version in a local
// module proxy directory (GOPROXY=file://...), in front of the usual proxy for every other
// dependency, exactly as proxy.golang.org would serve a pushed commit.
package standalone

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// modulePath is the conformance module, as an outsider names it.
const modulePath = "github.com/facematch/facematch/conformance"

func TestOutsideModuleInstallsAndImportsTheSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes the module to a local proxy and builds an outside module against it")
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "go.mod")); err != nil || !bytes.Contains(b, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s is not the conformance module: %v", src, err)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "go.mod")); bytes.Contains(b, []byte("\nreplace ")) {
		t.Fatalf("conformance/go.mod has a replace directive: an outside module would not see it")
	}
	proxy := t.TempDir()
	version := publish(t, src, proxy)
	t.Logf("published %s@%s to file://%s", modulePath, version, proxy)

	upstream := goEnv(t, "GOPROXY")
	outside := t.TempDir() // outside the checkout: no go.work, no replace, nothing of the repository
	bin := t.TempDir()
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+upstream,
		"GONOSUMDB=github.com/facematch/facematch", // a local pseudo-version is in no checksum database
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOBIN="+bin,
	)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = outside, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s (in an outside module): %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	t.Run("go install of the commands", func(t *testing.T) {
		run("install", modulePath+"/cmd/...@"+version)
		for _, name := range []string{"facematch-conformance", "behaviours"} {
			if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
				t.Errorf("go install did not install %s: %v", name, err)
			}
		}
		out, err := exec.Command(filepath.Join(bin, "facematch-conformance"), "-help").CombinedOutput()
		if !strings.Contains(string(out), "-certify") {
			t.Errorf("the installed suite does not run: %v\n%s", err, out)
		}
	})

	t.Run("go get of facematchtest, built into an outside program", func(t *testing.T) {
		os.WriteFile(filepath.Join(outside, "go.mod"), []byte("module example.com/outside\n\ngo 1.26\n"), 0o644)
		os.WriteFile(filepath.Join(outside, "main.go"), []byte(`package main

import (
	"fmt"

	"github.com/facematch/facematch/conformance/facematchtest"
)

func main() {
	_ = facematchtest.Run
	fmt.Println(facematchtest.DefaultImage)
}
`), 0o644)
		run("get", modulePath+"/facematchtest@"+version)
		out := run("run", ".")
		if strings.TrimSpace(out) != "facematch:dev" {
			t.Fatalf("the outside program printed %q, want facematchtest.DefaultImage", out)
		}
		gomod, _ := os.ReadFile(filepath.Join(outside, "go.mod"))
		if !bytes.Contains(gomod, []byte(modulePath+" "+version)) {
			t.Fatalf("the outside go.mod does not require %s %s:\n%s", modulePath, version, gomod)
		}
		if bytes.Contains(gomod, []byte("github.com/facematch/facematch ")) {
			t.Fatalf("the outside module needs the server's module:\n%s", gomod)
		}
	})
}

// publish writes the module at src to a module proxy directory as a pseudo-version whose
// revision is the hash of its content (so that a changed tree never reuses a cached version),
// and returns the version.
func publish(t *testing.T, src, proxy string) string {
	t.Helper()
	draft := filepath.Join(t.TempDir(), "draft.zip")
	zipAt(t, src, draft, "v0.0.0-00010101000000-000000000000")
	b, err := os.ReadFile(draft)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	stamp := time.Unix(commitTime(src), 0).UTC()
	version := module.PseudoVersion("v0", "", stamp, hex.EncodeToString(sum[:])[:12])

	dir := filepath.Join(proxy, filepath.FromSlash(modulePath), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zipAt(t, src, filepath.Join(dir, version+".zip"), version)
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, stamp})
	for name, data := range map[string][]byte{version + ".mod": gomod, version + ".info": info, "list": []byte(version + "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return version
}

func zipAt(t *testing.T, src, dst, version string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := modzip.CreateFromDir(f, module.Version{Path: modulePath, Version: version}, src); err != nil {
		t.Fatalf("zip the module: %v", err)
	}
}

// commitTime is the Unix time of the checkout's HEAD commit, or now outside a git checkout.
func commitTime(dir string) int64 {
	out, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%ct").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return n
		}
	}
	return time.Now().Unix()
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" || v == "off" {
		t.Fatalf("GOPROXY is %q: the outside module needs a proxy for the other dependencies", v)
	}
	return v
}
