// Package behaviours builds conformance/BEHAVIOURS.md, the list of the contract's rules with
// the specs that check each, from the contract (../shared/spec/face-match.md) and the suite's
// source: every `It` names the rule ids it checks in its Labels.
package behaviours

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Rule is one rule of the contract.
type Rule struct {
	ID, Section, Text string
}

// Spec is the contract: its rules in the order it states them.
type Spec struct {
	Rules []Rule
}

// outOfScope are the contract's sections the suite does not certify, with why: they are about
// running our server (PostgreSQL replicas, the web console), not the HTTP API another
// implementation offers, and the server's own tests check them.
var outOfScope = map[string]string{
	"7.": "running several replicas of our server on PostgreSQL: the server's own tests (postgres/, storetest/)",
	"8.": "our server's web console: the server's own tests",
}

// OutOfScope says why the suite does not check the rule, or "" when it does.
func (r Rule) OutOfScope() string {
	for prefix, why := range outOfScope {
		if strings.HasPrefix(r.Section, prefix) {
			return why
		}
	}
	return ""
}

// InScope lists the ids of the rules the suite checks, in the contract's order.
func (s Spec) InScope() []string {
	var ids []string
	for _, r := range s.Rules {
		if r.OutOfScope() == "" {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// IDs lists the rule ids in the contract's order.
func (s Spec) IDs() []string {
	ids := make([]string, len(s.Rules))
	for i, r := range s.Rules {
		ids[i] = r.ID
	}
	return ids
}

// SpecPath is the contract: $FACEMATCH_SHARED/spec/face-match.md, else ../shared beside the
// repository root.
func SpecPath(getenv func(string) string, repoRoot string) string {
	if d := getenv("FACEMATCH_SHARED"); d != "" {
		return filepath.Join(d, "spec", "face-match.md")
	}
	if repoRoot == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(repoRoot), "shared", "spec", "face-match.md")
}

var (
	ruleLine  = regexp.MustCompile(`^- \[(FM-[A-Z]+-[0-9]+)\]\s*(.*)$`)
	ruleIDRe  = regexp.MustCompile(`^FM-[A-Z]+-[0-9]+$`)
	headingRe = regexp.MustCompile(`^#{2,3}\s+(.*)$`)
)

// suiteRules are the rules the suite states beside the contract (rules.md): behaviours the
// contract requires in prose without an id, such as graceful shutdown.
//
//go:embed rules.md
var suiteRules []byte

// LoadSpec reads the rules of the contract: each is a bullet "- [FM-AREA-N] text" whose text
// goes on over the indented lines below it. The suite's own rules (rules.md) follow, unless the
// contract states their ids itself.
func LoadSpec(path string) (Spec, error) {
	if path == "" {
		return Spec{}, fmt.Errorf("no contract: set FACEMATCH_SHARED")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, err
	}
	spec, err := parseRules(path, b)
	if err != nil {
		return spec, err
	}
	extra, err := parseRules("rules.md", suiteRules)
	if err != nil {
		return spec, err
	}
	have := map[string]bool{}
	for _, r := range spec.Rules {
		have[r.ID] = true
	}
	for _, r := range extra.Rules {
		if !have[r.ID] {
			spec.Rules = append(spec.Rules, r)
		}
	}
	return spec, nil
}

// parseRules reads the rule bullets of a contract text.
func parseRules(path string, b []byte) (Spec, error) {
	var spec Spec
	section := ""
	var cur *Rule
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if m := headingRe.FindStringSubmatch(line); m != nil {
			cur = nil
			if strings.HasPrefix(line, "## ") {
				section = m[1]
			}
			continue
		}
		if m := ruleLine.FindStringSubmatch(line); m != nil {
			spec.Rules = append(spec.Rules, Rule{ID: m[1], Section: section, Text: m[2]})
			cur = &spec.Rules[len(spec.Rules)-1]
			continue
		}
		if cur != nil && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "" {
			cur.Text += " " + strings.TrimSpace(line)
			continue
		}
		cur = nil
	}
	if len(spec.Rules) == 0 {
		return spec, fmt.Errorf("%s states no rule", path)
	}
	seen := map[string]bool{}
	for _, r := range spec.Rules {
		if seen[r.ID] {
			return spec, fmt.Errorf("%s states %s twice", path, r.ID)
		}
		seen[r.ID] = true
	}
	return spec, sc.Err()
}

// SuiteSpec is one `It` of the suite.
type SuiteSpec struct {
	Text   string   // container texts and the It's text, joined by spaces
	Labels []string // its own labels and its containers'
	File   string
	Line   int
}

// Rules are the rule ids among the spec's labels.
func (s SuiteSpec) Rules() []string {
	var out []string
	for _, l := range s.Labels {
		if ruleIDRe.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// containerFuncs are the Ginkgo nodes that hold specs; specFuncs are the specs.
var (
	containerFuncs = map[string]bool{"Describe": true, "Context": true, "When": true, "FDescribe": true, "FContext": true, "FWhen": true, "PDescribe": true, "PContext": true, "PWhen": true}
	specFuncs      = map[string]bool{"It": true, "Specify": true, "FIt": true, "FSpecify": true, "PIt": true, "PSpecify": true}
)

// LoadSuite reads the specs of the suite's .go files in dir. Texts and labels must be
// string literals (or constants declared in the suite) so that the list is built without
// running anything.
func LoadSuite(dir string) ([]SuiteSpec, error) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var files []*ast.File
	consts := map[string]string{}
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		collectConsts(f, consts)
	}
	var specs []SuiteSpec
	for i, f := range files {
		var errs []string
		walk(f, fset, filepath.Base(paths[i]), nil, nil, consts, &specs, &errs)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
	}
	return specs, nil
}

// collectConsts records the string constants of a file, so that labels may name them.
func collectConsts(f *ast.File, consts map[string]string) {
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if v, err := strconv.Unquote(lit.Value); err == nil {
							consts[n.Name] = v
						}
					}
				}
			}
		}
	}
}

// walk finds the Ginkgo nodes under n, carrying the texts and labels of the containers above.
func walk(n ast.Node, fset *token.FileSet, file string, texts, labels []string, consts map[string]string, specs *[]SuiteSpec, errs *[]string) {
	ast.Inspect(n, func(x ast.Node) bool {
		call, ok := x.(*ast.CallExpr)
		if !ok {
			return true
		}
		id, ok := call.Fun.(*ast.Ident)
		if !ok || (!containerFuncs[id.Name] && !specFuncs[id.Name]) || len(call.Args) == 0 {
			return true
		}
		pos := fset.Position(call.Pos())
		text, ok := stringValue(call.Args[0], consts)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s:%d: %s needs a literal text", file, pos.Line, id.Name))
			return false
		}
		var own []string
		for _, a := range call.Args[1:] {
			lc, ok := a.(*ast.CallExpr)
			if !ok {
				continue
			}
			if lid, ok := lc.Fun.(*ast.Ident); ok && lid.Name == "Label" {
				for _, la := range lc.Args {
					v, ok := stringValue(la, consts)
					if !ok {
						*errs = append(*errs, fmt.Sprintf("%s:%d: labels must be literals or constants", file, pos.Line))
						continue
					}
					own = append(own, v)
				}
			}
		}
		allTexts := append(append([]string{}, texts...), text)
		allLabels := append(append([]string{}, labels...), own...)
		if specFuncs[id.Name] {
			*specs = append(*specs, SuiteSpec{Text: strings.Join(allTexts, " "), Labels: allLabels, File: file, Line: pos.Line})
			return false
		}
		for _, a := range call.Args[1:] {
			if fn, ok := a.(*ast.FuncLit); ok {
				walk(fn.Body, fset, file, allTexts, allLabels, consts, specs, errs)
			}
		}
		return false
	})
}

func stringValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := consts[v.Name]
		return s, ok
	case *ast.BinaryExpr:
		if v.Op == token.ADD {
			a, ok1 := stringValue(v.X, consts)
			b, ok2 := stringValue(v.Y, consts)
			return a + b, ok1 && ok2
		}
	}
	return "", false
}

// Check lists what is wrong between the contract and the suite: a rule no spec checks, a rule
// id in a label that the contract does not state, a spec that names no rule.
func Check(spec Spec, suite []SuiteSpec) []string {
	var problems []string
	stated := map[string]bool{}
	for _, r := range spec.Rules {
		stated[r.ID] = true
	}
	checked := map[string]bool{}
	for _, s := range suite {
		rules := s.Rules()
		if len(rules) == 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: %q names no rule id in its labels", s.File, s.Line, s.Text))
		}
		for _, id := range rules {
			checked[id] = true
			if !stated[id] {
				problems = append(problems, fmt.Sprintf("%s:%d: %q names %s, which the contract does not state", s.File, s.Line, s.Text, id))
			}
		}
	}
	for _, r := range spec.Rules {
		if !checked[r.ID] && r.OutOfScope() == "" {
			problems = append(problems, fmt.Sprintf("%s is checked by no spec", r.ID))
		}
	}
	return problems
}

// Render writes BEHAVIOURS.md.
func Render(spec Spec, suite []SuiteSpec) []byte {
	byRule := map[string][]SuiteSpec{}
	for _, s := range suite {
		for _, id := range s.Rules() {
			byRule[id] = append(byRule[id], s)
		}
	}
	var b bytes.Buffer
	b.WriteString("# Behaviours checked by the conformance suite\n\n")
	b.WriteString("Generated by `go generate ./...` in `conformance/` (`go run ./cmd/behaviours`) from the contract\n")
	b.WriteString("(`../shared/spec/face-match.md`) and the labels of the suite's specs. Do not edit: a test fails\n")
	b.WriteString("when this file is stale, when a rule has no spec, and when a spec names an unknown rule.\n\n")
	fmt.Fprintf(&b, "%d rules, %d specs.\n\n", len(spec.Rules), len(suite))
	b.WriteString("| rule | specs | areas |\n|---|---:|---|\n")
	for _, r := range spec.Rules {
		areas := map[string]bool{}
		for _, s := range byRule[r.ID] {
			for _, l := range s.Labels {
				if !ruleIDRe.MatchString(l) {
					areas[l] = true
				}
			}
		}
		var names []string
		for a := range areas {
			names = append(names, a)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "| [%s](#%s) | %d | %s |\n", r.ID, strings.ToLower(r.ID), len(byRule[r.ID]), strings.Join(names, ", "))
	}
	section := ""
	for _, r := range spec.Rules {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(&b, "\n## %s\n", section)
		}
		fmt.Fprintf(&b, "\n### %s\n\n> %s\n\n", r.ID, r.Text)
		if why := r.OutOfScope(); why != "" {
			fmt.Fprintf(&b, "Out of the suite's scope: %s.\n", why)
		}
		for _, s := range byRule[r.ID] {
			fmt.Fprintf(&b, "- %s (`%s`; labels: %s)\n", s.Text, s.File, strings.Join(s.Labels, ", "))
		}
	}
	return b.Bytes()
}
