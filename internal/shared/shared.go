// Package shared locates the read-only folder ../shared that sits beside the checkout: the
// spec, the model sources and the face photos tests read (never copied into the repository).
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared folder: $FACEMATCH_SHARED when set, else ../shared next to the
// directory holding go.mod. It returns "" when neither exists.
func Dir() string {
	if d := os.Getenv("FACEMATCH_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(d); err == nil {
				return d
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// RepoRoot returns the directory holding go.mod, or "" when there is none above the working
// directory.
func RepoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Path joins elems under the shared folder and fails the test when the file is not there:
// tests that need the shared photos must not pass without them.
func Path(tb testing.TB, elems ...string) string {
	tb.Helper()
	d := Dir()
	if d == "" {
		tb.Fatal("the shared folder ../shared (or $FACEMATCH_SHARED) is missing")
	}
	p := filepath.Join(append([]string{d}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("shared file missing: %v", err)
	}
	return p
}

// Read returns the bytes of a shared file, failing the test when it cannot be read.
func Read(tb testing.TB, elems ...string) []byte {
	tb.Helper()
	data, err := os.ReadFile(Path(tb, elems...))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
