// Package selftest checks the conformance suite itself: pointed at a deliberately broken server
// (the real bin/facematch behind internal/brokenproxy: 401 for a missing key, Approved for a score
// equal to the threshold), it must fail exactly the specs that check those two behaviours, and
// its expected-failures file must turn those failures into a passing run.
package selftest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// The specs the broken server must fail, and only they, among those the filter selects.
var wantFailed = []string{
	"Keys answers 403 with the exact body, never 401, to a request without x-api-key on every /v3/ route",
	"Matching declines a score equal to the threshold and approves one just below it, comparing the score as reported",
}

// filter keeps the run short: the two broken rules and one that the breakage leaves alone.
const filter = "FM-AUTH-1 || FM-MATCH-2 || FM-MATCH-3"

func TestSuiteFailsExactlyTheBrokenRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a server and runs the suite against it")
	}
	dir := t.TempDir()
	suiteDir, _ := filepath.Abs("..")
	root := filepath.Dir(suiteDir)

	real := os.Getenv("FACEMATCH_BIN")
	if real == "" {
		real = filepath.Join(root, "bin", "facematch")
	}
	if _, err := os.Stat(real); err != nil {
		t.Fatalf("the real server the broken proxy stands in front of: %v (make build, or set FACEMATCH_BIN)", err)
	}
	real, _ = filepath.Abs(real)
	broken := filepath.Join(dir, "facematch-broken")
	build(t, suiteDir, "go", "build", "-ldflags", "-X main.server="+real, "-o", broken, "./internal/brokenproxy/facematch-broken")
	suite := os.Getenv("FACEMATCH_CONFORMANCE_BIN")
	if suite == "" {
		suite = filepath.Join(dir, "facematch-conformance")
		build(t, suiteDir, "go", "build", "-o", suite, "./cmd/facematch-conformance")
	}

	t.Run("without expected failures the run fails, on exactly the broken specs", func(t *testing.T) {
		none := filepath.Join(dir, "none.txt")
		os.WriteFile(none, nil, 0o644)
		out, err := runSuite(t, suite, broken, root, none, filepath.Join(dir, "report.json"), "")
		if err == nil {
			t.Fatalf("the suite passed against the broken server:\n%s", out)
		}
		specs := readReport(t, filepath.Join(dir, "report.json"))
		var failed, passed []string
		for _, s := range specs {
			switch {
			case s.State.Is(types.SpecStateFailureStates):
				failed = append(failed, s.FullText())
				if !hasLabel(s, "FM-AUTH-1") && !hasLabel(s, "FM-MATCH-2") {
					t.Errorf("%q failed but checks neither FM-AUTH-1 nor FM-MATCH-2", s.FullText())
				}
			case s.State == types.SpecStatePassed:
				passed = append(passed, s.FullText())
			}
		}
		sort.Strings(failed)
		want := append([]string{}, wantFailed...)
		sort.Strings(want)
		if strings.Join(failed, "\n") != strings.Join(want, "\n") {
			t.Fatalf("failed specs:\n  %s\nwant:\n  %s\noutput:\n%s", strings.Join(failed, "\n  "), strings.Join(want, "\n  "), tail(out))
		}
		if len(passed) < 3 {
			t.Fatalf("only %d specs passed: the broken server should fail nothing else\n%s", len(passed), tail(out))
		}
		for _, s := range []string{"FM-AUTH-1   FAIL", "FM-MATCH-2  FAIL", "FM-MATCH-3  pass", "answered 401: the API never does (FM-AUTH-1)", "curl -sS -i -X", "conformance verdict: FAIL"} {
			if !strings.Contains(out, s) {
				t.Errorf("the output lacks %q", s)
			}
		}
		t.Logf("%d specs failed as they should, %d passed", len(failed), len(passed))
	})

	t.Run("the same specs pass through the proxy without its faults", func(t *testing.T) {
		none := filepath.Join(dir, "none.txt")
		os.WriteFile(none, nil, 0o644)
		out, err := runSuite(t, suite, broken, root, none, filepath.Join(dir, "clean.json"), "", "BROKENPROXY_FAULTS=none")
		if err != nil {
			t.Fatalf("the suite failed against the clean proxy: %v\n%s", err, tail(out))
		}
		passed := 0
		for _, s := range readReport(t, filepath.Join(dir, "clean.json")) {
			switch {
			case s.State == types.SpecStatePassed:
				passed++
			case s.State.Is(types.SpecStateFailureStates):
				t.Errorf("%q failed through the clean proxy", s.FullText())
			}
		}
		if passed < len(wantFailed)+3 {
			t.Errorf("only %d specs passed through the clean proxy", passed)
		}
	})

	t.Run("with the broken rules listed as expected failures the run passes", func(t *testing.T) {
		listed := filepath.Join(dir, "expected.txt")
		os.WriteFile(listed, []byte("# the self-test's broken server\nFM-AUTH-1\nFM-MATCH-2\nFM-MATCH-3 # passes: reported as removable\n"), 0o644)
		junit := filepath.Join(dir, "junit.xml")
		out, err := runSuite(t, suite, broken, root, listed, filepath.Join(dir, "report2.json"), junit)
		if err != nil {
			t.Fatalf("the run failed although its failures are expected: %v\n%s", err, tail(out))
		}
		for _, s := range []string{"FM-AUTH-1   expected-failure", "FM-MATCH-2  expected-failure", "to remove from the expected-failures file: FM-MATCH-3", "conformance verdict: PASS"} {
			if !strings.Contains(out, s) {
				t.Errorf("the output lacks %q:\n%s", s, tail(out))
			}
		}
		var suites struct {
			Failures int `xml:"failures,attr"`
			Suites   []struct {
				Cases []struct {
					Name    string    `xml:"name,attr"`
					Skipped *struct{} `xml:"skipped"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		b, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b, &suites); err != nil {
			t.Fatal(err)
		}
		skipped := 0
		for _, s := range suites.Suites {
			for _, c := range s.Cases {
				if c.Failure != nil {
					t.Errorf("JUnit reports %s as a failure", c.Name)
				}
				if c.Skipped != nil && strings.Contains(c.Name, "never 401") || c.Skipped != nil && strings.Contains(c.Name, "equal to the threshold") {
					skipped++
				}
			}
		}
		if skipped != 2 {
			t.Errorf("JUnit marks %d of the 2 expected failures as skipped", skipped)
		}
	})
}

func build(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// runSuite runs the compiled suite in process mode against server, from the repository root.
func runSuite(t *testing.T, suite, server, root, expected, report, junit string, extraEnv ...string) (string, error) {
	t.Helper()
	args := []string{"-ginkgo.label-filter=" + filter, "-ginkgo.json-report=" + report, "-ginkgo.no-color", "-expected-failures=" + expected}
	if junit != "" {
		args = append(args, "-junit="+junit)
	}
	cmd := exec.Command(suite, args...)
	cmd.Dir = root
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FACEMATCH_") && !strings.HasPrefix(kv, "BROKENPROXY_") || strings.HasPrefix(kv, "FACEMATCH_SHARED=") || strings.HasPrefix(kv, "FACEMATCH_MODELS=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, "FACEMATCH_TARGET=process", "FACEMATCH_BIN="+server, "FACEMATCH_ARTIFACTS="+filepath.Join(t.TempDir(), "artifacts")), extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func readReport(t *testing.T, path string) types.SpecReports {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		t.Fatal(err)
	}
	var specs types.SpecReports
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt {
				specs = append(specs, s)
			}
		}
	}
	return specs
}

func hasLabel(s types.SpecReport, label string) bool {
	for _, l := range s.Labels() {
		if l == label {
			return true
		}
	}
	return false
}

func tail(s string) string {
	if i := strings.Index(s, "Face Match API conformance: target"); i >= 0 {
		return s[i:]
	}
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
