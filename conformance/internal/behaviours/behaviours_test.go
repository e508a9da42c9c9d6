package behaviours

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// suiteDir is conformance/, two levels up from this package.
var suiteDir = filepath.Join("..", "..")

func load(t *testing.T) (Spec, []SuiteSpec) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join(suiteDir, ".."))
	spec, err := LoadSpec(SpecPath(os.Getenv, root))
	if err != nil {
		t.Fatalf("the contract: %v (set FACEMATCH_SHARED)", err)
	}
	suite, err := LoadSuite(filepath.Join(suiteDir, "internal", "suite"))
	if err != nil {
		t.Fatal(err)
	}
	return spec, suite
}

// Every rule of the contract is checked by at least one spec, and every rule id a spec names
// is one of the contract's.
func TestEveryRuleHasASpec(t *testing.T) {
	spec, suite := load(t)
	if len(spec.Rules) < 30 {
		t.Fatalf("only %d rules read from the contract", len(spec.Rules))
	}
	for _, p := range Check(spec, suite) {
		t.Error(p)
	}
}

// BEHAVIOURS.md is what the generator writes today.
func TestBehavioursIsUpToDate(t *testing.T) {
	spec, suite := load(t)
	got, err := os.ReadFile(filepath.Join(suiteDir, "BEHAVIOURS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Render(spec, suite); !bytes.Equal(got, want) {
		t.Fatal("BEHAVIOURS.md is stale: run `go generate ./...` in conformance/")
	}
}

// Every spec carries an area label besides its rule ids.
func TestEverySpecHasAnArea(t *testing.T) {
	_, suite := load(t)
	for _, s := range suite {
		if len(s.Labels) == len(s.Rules()) {
			t.Errorf("%s:%d: %q has no area label", s.File, s.Line, s.Text)
		}
	}
}

func TestLoadSpecJoinsContinuationLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "spec.md")
	os.WriteFile(p, []byte("## 1. Keys\n- [FM-A-1] first line\n  second line.\n- [FM-A-2] other\n\ntext\n## 2. More\n- [FM-B-1] x\n"), 0o644)
	spec, err := LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Rules) != 4 || spec.Rules[0].Text != "first line second line." || spec.Rules[2].Section != "2. More" {
		t.Fatalf("%+v", spec.Rules)
	}
	if spec.Rules[3].ID != "FM-OPS-1" || !strings.Contains(spec.Rules[3].Text, "SIGTERM") {
		t.Fatalf("the suite's own rule does not follow the contract's: %+v", spec.Rules[3])
	}
	if !strings.Contains(string(Render(spec, nil)), "### FM-B-1") {
		t.Fatal("Render")
	}
	// Once the contract states an id itself, its text replaces the suite's.
	os.WriteFile(p, []byte("## 6. Ops\n- [FM-OPS-1] the contract's words\n"), 0o644)
	spec, err = LoadSpec(p)
	if err != nil || len(spec.Rules) != 1 || spec.Rules[0].Text != "the contract's words" {
		t.Fatalf("%+v %v", spec.Rules, err)
	}
}
