package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/internal/shared"
)

const module = "github.com/facematch/facematch"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
	CgoFiles   []string
}

// list runs go list -deps -json on patterns from the module root.
func list(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json"}, patterns...)...)
	cmd.Dir = shared.RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	pkgs := list(t, ".")
	for _, imp := range pkgs[module].Imports {
		if !pkgs[imp].Standard {
			t.Errorf("the domain package imports %s, which is not the standard library", imp)
		}
	}
}

func TestStoreAndMatcherLinkNoHTTP(t *testing.T) {
	for _, p := range storeAndMatcher(t) {
		pkgs := list(t, p)
		if _, ok := pkgs["net/http"]; ok {
			t.Errorf("%s links net/http", p)
		}
	}
}

// storeAndMatcher lists the store packages (every folder with migrations) and the matcher.
func storeAndMatcher(t *testing.T) []string {
	out := []string{"./matcher"}
	dirs, err := filepath.Glob(filepath.Join(shared.RepoRoot(), "*", "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		out = append(out, "./"+filepath.Base(filepath.Dir(d)))
	}
	if len(out) < 2 {
		t.Fatal("no store package found (a folder with migrations/)")
	}
	return out
}

func TestServerLinksNoCgoPackageOfTheProject(t *testing.T) {
	pkgs := list(t, "./server")
	for path, p := range pkgs {
		if strings.HasPrefix(path, module) && len(p.CgoFiles) > 0 {
			t.Errorf("server links %s, a cgo package", path)
		}
	}
}

// No production file outside conformance/ carries a build constraint that only a test build
// sets: a self-test's broken server is the conformance module's business.
func TestNoTestOnlyBuildHooks(t *testing.T) {
	root := shared.RepoRoot()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && (rel == "conformance" || strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "build" || rel == "bin" || rel == "data") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "package ") {
				break
			}
			if strings.HasPrefix(line, "//go:build") && !isPlatformConstraint(line) {
				t.Errorf("%s: %s", rel, line)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isPlatformConstraint tells constraints on the platform or toolchain (linux, amd64, cgo,
// go1.x), which production code may carry, from tags a build must set on purpose.
func isPlatformConstraint(line string) bool {
	for _, f := range strings.FieldsFunc(strings.TrimPrefix(line, "//go:build"), func(r rune) bool {
		return strings.ContainsRune(" !()&|", r)
	}) {
		switch {
		case f == "cgo", f == "linux", f == "darwin", f == "windows", f == "unix", f == "amd64", f == "arm64", strings.HasPrefix(f, "go1."):
		default:
			return false
		}
	}
	return true
}
