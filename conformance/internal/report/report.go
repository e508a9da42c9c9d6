// Package report turns the suite's spec results into verdicts by rule id: the expected-failures
// file, the one-screen summary, the curl reproducers and a JUnit file where expected failures do
// not fail the build.
package report

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// RuleID matches a rule id of the contract, e.g. FM-AUTH-1.
var RuleID = regexp.MustCompile(`^FM-[A-Z]+-[0-9]+$`)

// NoteEntry is the name of the report entries holding notes: where the target chose otherwise
// than our server where the contract is silent (openapi.yaml's x-facematch-* extensions).
// Notes are informational and never fail a run.
const NoteEntry = "note"

// NotApplicablePrefix starts the skip message of a spec that needs control over the server
// (its clock, a restart, other settings) which the target does not give the suite: such a spec is
// "not applicable", listed in the report, and no failure even when certifying.
const NotApplicablePrefix = "not applicable: "

// ReproducerEntry is the name of the report entry holding a failed spec's curl command.
const ReproducerEntry = "reproduce with curl"

// Expected is the set of rule ids listed in an expected-failures file.
type Expected map[string]bool

// LoadExpected reads an expected-failures file: one rule id per line, '#' starts a comment.
// A missing file is an empty list when optional.
func LoadExpected(path string, optional bool) (Expected, error) {
	exp := Expected{}
	if path == "" {
		return exp, nil
	}
	f, err := os.Open(path)
	if err != nil {
		if optional && os.IsNotExist(err) {
			return exp, nil
		}
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !RuleID.MatchString(line) {
			return nil, fmt.Errorf("%s:%d: %q is not a rule id like FM-AUTH-1", path, n, line)
		}
		exp[line] = true
	}
	return exp, sc.Err()
}

// Rules returns the rule ids among labels.
func Rules(labels []string) []string {
	var out []string
	for _, l := range labels {
		if RuleID.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// Outcome is the verdict on one spec.
type Outcome int

// The outcomes of a spec.
const (
	NotRun          Outcome = iota // filtered out
	Skipped                        // skipped with a reason
	Passed                         // passed
	Failed                         // failed, not excused
	ExpectedFailure                // failed, and one of its rule ids is an expected failure
	NotApplicable                  // needs control over the server the target does not give
)

// Spec is a spec's result with its verdict.
type Spec struct {
	Report  types.SpecReport
	Rules   []string
	Outcome Outcome
	Excuse  string // the listed rule ids that excuse a failure
}

// Rule is the verdict on one rule id.
type Rule struct {
	ID                                              string
	Passed, Failed, Expected, Skipped, NotRun, Runs int
	NotApplicable                                   int
	Listed                                          bool   // in the expected-failures file
	SkipReason                                      string // of one skipped spec
}

// HasSpecs tells whether any spec of the run names the rule: a rule of the contract that no spec
// of this suite checks is the suite's gap, which no target can close, and never fails a run.
func (r Rule) HasSpecs() bool {
	return r.Passed+r.Failed+r.Expected+r.Skipped+r.NotRun+r.NotApplicable > 0
}

// Status is the rule's one-word verdict.
func (r Rule) Status() string {
	switch {
	case r.Failed > 0:
		return "FAIL"
	case r.Expected > 0:
		return "expected-failure"
	case r.Passed > 0 && r.Listed && r.Skipped == 0 && r.NotRun == 0:
		return "pass (remove from expected-failures)"
	case r.Passed > 0 && r.Skipped > 0:
		return fmt.Sprintf("pass (%d skipped)", r.Skipped)
	case r.Passed > 0:
		return "pass"
	case r.Skipped > 0:
		return "skip"
	case r.NotApplicable > 0:
		return "not applicable"
	case !r.HasSpecs():
		return "no spec in this suite"
	}
	return "not run"
}

// Result is the verdict on a run.
type Result struct {
	Specs   []Spec
	Rules   []*Rule // every rule id known, sorted as the contract lists them
	Certify bool
}

// Analyze gives every spec and every rule its verdict. known lists the contract's rule ids, so
// that rules no spec ran still show; with certify, expected failures excuse nothing.
func Analyze(specs types.SpecReports, expected Expected, known []string, certify bool) Result {
	res := Result{Certify: certify}
	byID := map[string]*Rule{}
	rule := func(id string) *Rule {
		r := byID[id]
		if r == nil {
			r = &Rule{ID: id, Listed: expected[id]}
			byID[id] = r
		}
		return r
	}
	for _, id := range known {
		rule(id)
	}
	for id := range expected {
		rule(id)
	}
	for _, sr := range specs {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		s := Spec{Report: sr, Rules: Rules(sr.Labels())}
		switch {
		case sr.State == types.SpecStatePassed:
			s.Outcome = Passed
		case sr.State.Is(types.SpecStateFailureStates):
			s.Outcome = Failed
			if !certify && len(s.Rules) > 0 && allListed(s.Rules, expected) {
				s.Outcome, s.Excuse = ExpectedFailure, strings.Join(s.Rules, ",")
			}
		case sr.State == types.SpecStateSkipped && strings.HasPrefix(sr.Failure.Message, NotApplicablePrefix):
			s.Outcome = NotApplicable
		case sr.State == types.SpecStateSkipped && sr.Failure.Message != "":
			s.Outcome = Skipped
		default:
			s.Outcome = NotRun
		}
		res.Specs = append(res.Specs, s)
		for _, id := range s.Rules {
			r := rule(id)
			switch s.Outcome {
			case Passed:
				r.Passed++
			case Failed:
				r.Failed++
			case ExpectedFailure:
				r.Expected++
			case Skipped:
				r.Skipped++
				if r.SkipReason == "" {
					r.SkipReason = sr.Failure.Message
				}
			case NotRun:
				r.NotRun++
			case NotApplicable:
				r.NotApplicable++
			}
			if s.Outcome != NotRun && s.Outcome != NotApplicable {
				r.Runs++
			}
		}
	}
	for _, r := range byID {
		res.Rules = append(res.Rules, r)
	}
	sort.Slice(res.Rules, func(i, j int) bool { return ruleLess(res.Rules[i].ID, res.Rules[j].ID, known) })
	return res
}

// allListed tells whether every rule id is an expected failure: a failing spec is excused only
// when all the rules it checks are listed, so that listing one rule does not hide another's.
func allListed(ids []string, expected Expected) bool {
	for _, id := range ids {
		if !expected[id] {
			return false
		}
	}
	return true
}

// ruleLess orders rule ids as known lists them, then by area and number.
func ruleLess(a, b string, known []string) bool {
	ia, ib := indexOf(known, a), indexOf(known, b)
	if ia != ib {
		return ia < ib
	}
	pa, na := splitID(a)
	pb, nb := splitID(b)
	if pa != pb {
		return pa < pb
	}
	return na < nb
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list)
}

func splitID(id string) (string, int) {
	i := strings.LastIndex(id, "-")
	n, _ := strconv.Atoi(id[i+1:])
	return id[:i], n
}

// Passed tells whether the run passes: no failure that is not expected, and in certify mode no
// skip and no rule left unchecked, except the rules whose specs are all not applicable to the
// target: certification fails only on what the target could have passed.
func (r Result) Passed() bool {
	for _, s := range r.Specs {
		if s.Outcome == Failed || (r.Certify && s.Outcome == Skipped) {
			return false
		}
	}
	if r.Certify {
		for _, rule := range r.Rules {
			if rule.Passed == 0 && rule.NotApplicable == 0 && rule.HasSpecs() {
				return false
			}
		}
	}
	return true
}

// Summary is the one-screen table by rule id, then the failures with their reproducers.
func (r Result) Summary(header string) string {
	var b strings.Builder
	line := strings.Repeat("=", 100)
	fmt.Fprintf(&b, "%s\n%s\n%s\n", line, header, line)
	half := (len(r.Rules) + 1) / 2
	cell := func(x *Rule) string {
		return fmt.Sprintf("%-11s %-25s %2d/%-2d", x.ID, truncate(x.Status(), 25), x.Passed, x.Runs)
	}
	for i := 0; i < half; i++ {
		left := cell(r.Rules[i])
		right := ""
		if i+half < len(r.Rules) {
			right = cell(r.Rules[i+half])
		}
		fmt.Fprintf(&b, "%-48s  %s\n", left, right)
	}
	counts := map[Outcome]int{}
	for _, s := range r.Specs {
		counts[s.Outcome]++
	}
	fmt.Fprintf(&b, "%s\nspecs: %d passed, %d failed, %d expected failures, %d skipped, %d not applicable, %d not run   (n/m: specs passed / run, by rule)\n",
		line, counts[Passed], counts[Failed], counts[ExpectedFailure], counts[Skipped], counts[NotApplicable], counts[NotRun])
	var removable []string
	for _, rule := range r.Rules {
		if rule.Listed && rule.Failed == 0 && rule.Expected == 0 && rule.Passed > 0 && rule.Skipped == 0 && rule.NotRun == 0 {
			removable = append(removable, rule.ID)
		}
	}
	if len(removable) > 0 {
		fmt.Fprintf(&b, "expected failures that passed, to remove from the expected-failures file: %s\n", strings.Join(removable, " "))
	}
	for _, s := range r.Specs {
		if s.Outcome != Failed && s.Outcome != ExpectedFailure {
			continue
		}
		mark := "FAIL"
		if s.Outcome == ExpectedFailure {
			mark = "expected failure (" + s.Excuse + ")"
		}
		fmt.Fprintf(&b, "\n%s: %s %s\n  %s\n", mark, strings.Join(s.Rules, ","), s.Report.FullText(), firstLine(s.Report.Failure.Message))
		for _, e := range s.Report.ReportEntries {
			if e.Name == ReproducerEntry {
				fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(e.StringRepresentation(), "\n", "\n  "))
			}
		}
	}
	// Not applicable: what the suite cannot do to this target, never a failure.
	var na []string
	for _, s := range r.Specs {
		if s.Outcome == NotApplicable {
			na = append(na, fmt.Sprintf("%s %s (%s)", strings.Join(s.Rules, ","), s.Report.FullText(), strings.TrimPrefix(firstLine(s.Report.Failure.Message), NotApplicablePrefix)))
		}
	}
	if len(na) > 0 {
		b.WriteString("\nnot applicable to this target (they need control over the server; never a failure, also when certifying):\n")
		for _, n := range na {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	// Notes: the target's choices where the contract is silent, informational; each once, with
	// the rules of the specs that made it.
	var notes []string
	noteRules := map[string][]string{}
	for _, s := range r.Specs {
		for _, e := range s.Report.ReportEntries {
			if e.Name != NoteEntry {
				continue
			}
			n := firstLine(e.StringRepresentation())
			if _, ok := noteRules[n]; !ok {
				notes = append(notes, n)
			}
			noteRules[n] = append(noteRules[n], s.Rules...)
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nnotes (choices the contract leaves open, where the target differs from openapi.yaml's x-facematch-* extensions; never a failure):\n")
		for _, n := range notes {
			ids := noteRules[n]
			sort.Slice(ids, func(i, j int) bool { return ruleLess(ids[i], ids[j], nil) })
			fmt.Fprintf(&b, "  %s: %s\n", strings.Join(slices.Compact(ids), ","), n)
		}
	}
	var gaps []string
	for _, rule := range r.Rules {
		if !rule.HasSpecs() {
			gaps = append(gaps, rule.ID)
		}
	}
	if len(gaps) > 0 {
		fmt.Fprintf(&b, "\nrules of the contract this suite has no spec for (the suite's gap, never the target's failure): %s\n", strings.Join(gaps, " "))
	}
	// Skips, grouped by reason: what the target lacks.
	var reasons []string
	byReason := map[string][]string{}
	for _, s := range r.Specs {
		if s.Outcome == Skipped {
			reason := firstLine(s.Report.Failure.Message)
			if strings.HasPrefix(reason, "Spec skipped because Skip() was called in BeforeAll") {
				reason = "skipped with the first spec of its ordered container (reason above)"
			}
			if _, ok := byReason[reason]; !ok {
				reasons = append(reasons, reason)
			}
			byReason[reason] = append(byReason[reason], s.Rules...)
		}
	}
	if len(reasons) > 0 {
		b.WriteString("\nskipped")
		if r.Certify {
			b.WriteString(" (each fails certification)")
		}
		b.WriteString(":\n")
		for _, reason := range reasons {
			ids := byReason[reason]
			sort.Slice(ids, func(i, j int) bool { return ruleLess(ids[i], ids[j], nil) })
			fmt.Fprintf(&b, "  %s: %s\n", reason, strings.Join(slices.Compact(ids), " "))
		}
	}
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	mode := ""
	if r.Certify {
		mode = " (certify: no skips, no expected failures)"
	}
	fmt.Fprintf(&b, "%s\nconformance verdict: %s%s\n", line, verdict, mode)
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// firstLine is a failure message on one line of at most 400 characters.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 400 {
		return string(r[:399]) + "…"
	}
	return s
}

// WriteJUnit writes report as JUnit XML in which an expected failure is a skipped test case
// whose message names the listed rule, so that CI gates on the same verdict as the summary.
func WriteJUnit(report types.Report, res Result, path string) error {
	excused := map[string]string{}
	for _, s := range res.Specs {
		if s.Outcome == ExpectedFailure {
			excused[s.Report.FullText()] = s.Excuse
		}
	}
	out := report
	out.SpecReports = make(types.SpecReports, len(report.SpecReports))
	for i, sr := range report.SpecReports {
		if id, ok := excused[sr.FullText()]; ok && sr.LeafNodeType == types.NodeTypeIt {
			sr.State = types.SpecStateSkipped
			sr.Failure.Message = "expected failure (" + id + " is listed in the expected-failures file): " + sr.Failure.Message
		}
		out.SpecReports[i] = sr
	}
	out.SuiteSucceeded = res.Passed()
	return reporters.GenerateJUnitReport(out, path)
}
