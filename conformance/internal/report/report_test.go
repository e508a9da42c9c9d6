package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, msg string, labels ...string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLabels: labels, State: state, Failure: types.Failure{Message: msg}}
}

func TestAnalyze(t *testing.T) {
	specs := types.SpecReports{
		spec("a", types.SpecStateFailed, "boom", "auth", "FM-AUTH-1"),
		spec("b", types.SpecStatePassed, "", "auth", "FM-AUTH-1"),
		spec("c", types.SpecStateFailed, "boom", "matching", "FM-MATCH-2"),
		spec("d", types.SpecStatePassed, "", "sessions", "FM-SES-3"),
		spec("e", types.SpecStateSkipped, "needs a key", "webhooks", "FM-WH-5"),
		spec("f", types.SpecStateSkipped, "", "webhooks", "FM-WH-6"),
		spec("g", types.SpecStateFailed, "boom", "matching", "FM-MATCH-2", "FM-RESP-4"),
	}
	known := []string{"FM-AUTH-1", "FM-MATCH-2", "FM-RESP-4", "FM-SES-3", "FM-WH-5", "FM-WH-6", "FM-WH-1"}
	res := Analyze(specs, Expected{"FM-MATCH-2": true, "FM-SES-3": true}, known, false)
	if res.Passed() {
		t.Fatal("an unexpected failure passes")
	}
	status := map[string]string{}
	for _, r := range res.Rules {
		status[r.ID] = r.Status()
	}
	want := map[string]string{
		"FM-AUTH-1": "FAIL", "FM-MATCH-2": "FAIL", "FM-RESP-4": "FAIL", "FM-SES-3": "pass (remove from expected-failures)",
		"FM-WH-5": "skip", "FM-WH-6": "not run", "FM-WH-1": "no spec in this suite",
	}
	for id, w := range want {
		if status[id] != w {
			t.Errorf("%s: %q, want %q", id, status[id], w)
		}
	}
	if res.Rules[0].ID != "FM-AUTH-1" || res.Rules[len(res.Rules)-1].ID != "FM-WH-1" {
		t.Errorf("rules not in the contract's order: %v", res.Rules)
	}
	out := res.Summary("header")
	for _, s := range []string{"FAIL: FM-AUTH-1 a", "expected failure (FM-MATCH-2): FM-MATCH-2 c", "FAIL: FM-MATCH-2,FM-RESP-4 g", "to remove from the expected-failures file: FM-SES-3", "verdict: FAIL"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}

	ok := Analyze(specs[2:6], Expected{"FM-MATCH-2": true}, nil, false)
	if !ok.Passed() {
		t.Fatal("expected failures and skips fail a normal run")
	}
	if Analyze(specs[2:6], Expected{"FM-MATCH-2": true}, nil, true).Passed() {
		t.Fatal("certify mode excuses a failure or a skip")
	}
}

func TestLoadExpected(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(p, []byte("# comment\nFM-AUTH-1  # why\n\n  FM-WH-3\n"), 0o644)
	e, err := LoadExpected(p, false)
	if err != nil || len(e) != 2 || !e["FM-AUTH-1"] || !e["FM-WH-3"] {
		t.Fatalf("%v %v", e, err)
	}
	os.WriteFile(p, []byte("AUTH-1\n"), 0o644)
	if _, err := LoadExpected(p, false); err == nil {
		t.Fatal("a line that is no rule id is accepted")
	}
	if _, err := LoadExpected(p+".missing", true); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExpected(p+".missing", false); err == nil {
		t.Fatal("a missing file named explicitly is accepted")
	}
}

func TestCurl(t *testing.T) {
	dir := t.TempDir()
	r := Request{Method: "POST", URL: "http://h/v3/face-match/", Key: "fm_live_x_secret", KeyEnv: "FACEMATCH_LIVE_KEY", KeyNote: "the live key",
		Parts: []Part{
			{Name: "user_image", FileName: "a.jpg", Origin: "/photos/a b.jpg", IsFile: true},
			{Name: "ref_image", FileName: "gen.png", Data: []byte("png"), IsFile: true},
			{Name: "vendor_data", Value: "@it's"},
			{Name: "metadata", Value: strings.Repeat("m", 300)},
		}}
	out := r.Curl(dir, "spec")
	if strings.Contains(out, "secret") {
		t.Fatal("the key's secret is printed")
	}
	for _, s := range []string{`-H "x-api-key: $FACEMATCH_LIVE_KEY"`, `-F 'user_image=@/photos/a b.jpg;filename=a.jpg'`, `--form-string 'vendor_data=@it'\''s'`, "-F 'metadata=<" + dir} {
		if !strings.Contains(out, s) {
			t.Errorf("curl lacks %s:\n%s", s, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "spec-1-gen.png")); err != nil || string(b) != "png" {
		t.Errorf("generated file not written: %v", err)
	}
}

func TestNotApplicableNeverFailsCertification(t *testing.T) {
	specs := types.SpecReports{
		spec("expiry", types.SpecStateSkipped, NotApplicablePrefix+"starts a server with other settings", "sessions", "FM-SES-2"),
		spec("shape", types.SpecStatePassed, "", "sessions", "FM-SES-2"),
		spec("crash", types.SpecStateSkipped, NotApplicablePrefix+"crashes the server", "webhooks", "FM-WH-4"),
		spec("revoked", types.SpecStateSkipped, "needs a revoked key", "auth", "FM-AUTH-1"),
	}
	known := []string{"FM-AUTH-1", "FM-SES-2", "FM-WH-4"}
	res := Analyze(specs[:3], nil, known[1:], true)
	if !res.Passed() {
		t.Fatalf("not-applicable specs fail certification:\n%s", res.Summary("h"))
	}
	out := res.Summary("h")
	for _, s := range []string{"not applicable to this target", "FM-WH-4 crash (crashes the server)", "1 not applicable"} {
		if !strings.Contains(out, s) && !strings.Contains(out, strings.Replace(s, "1 not", "2 not", 1)) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	for _, r := range res.Rules {
		if r.ID == "FM-WH-4" && r.Status() != "not applicable" {
			t.Errorf("FM-WH-4: %q, want not applicable", r.Status())
		}
	}
	if Analyze(specs, nil, known, true).Passed() {
		t.Fatal("a skip for a missing key (the target could have given one) passes certification")
	}
}

func TestNotesAreListedAndNeverFail(t *testing.T) {
	s := spec("list", types.SpecStatePassed, "", "webhooks", "FM-WH-1")
	s.ReportEntries = types.ReportEntries{{Name: NoteEntry, Value: types.WrapEntryValue("the destination list is not oldest first")}}
	res := Analyze(types.SpecReports{s}, nil, []string{"FM-WH-1"}, true)
	if !res.Passed() {
		t.Fatal("a note fails the run")
	}
	if out := res.Summary("h"); !strings.Contains(out, "FM-WH-1: the destination list is not oldest first") {
		t.Errorf("summary lacks the note:\n%s", out)
	}
}

func TestRulesWithoutSpecsAreTheSuitesGap(t *testing.T) {
	specs := types.SpecReports{spec("a", types.SpecStatePassed, "", "auth", "FM-AUTH-1")}
	res := Analyze(specs, nil, []string{"FM-AUTH-1", "FM-CON-1"}, true)
	if !res.Passed() {
		t.Fatalf("a rule no spec checks fails certification:\n%s", res.Summary("h"))
	}
	if out := res.Summary("h"); !strings.Contains(out, "has no spec for (the suite's gap, never the target's failure): FM-CON-1") {
		t.Errorf("summary does not list the gap:\n%s", out)
	}
	skipped := append(specs, spec("b", types.SpecStateSkipped, "needs a key", "billing", "FM-BILL-1"))
	if Analyze(skipped, nil, []string{"FM-AUTH-1", "FM-BILL-1"}, true).Passed() {
		t.Fatal("a rule whose only spec was skipped passes certification")
	}
}

func TestWriteBundle(t *testing.T) {
	failed := spec("signs URLs", types.SpecStateFailed, "FM-SES-2: 200, want 403", "sessions", "FM-SES-2")
	failed.ReportEntries = types.ReportEntries{{Name: ReproducerEntry, Value: types.WrapEntryValue("curl -sS -i http://x/blob/1?t=1")}}
	noted := spec("lists destinations", types.SpecStatePassed, "", "webhooks", "FM-WH-1")
	noted.ReportEntries = types.ReportEntries{{Name: NoteEntry, Value: types.WrapEntryValue("not oldest first")}}
	specs := types.SpecReports{failed, noted, spec("crash", types.SpecStateSkipped, NotApplicablePrefix+"crashes the server", "webhooks", "FM-WH-4")}
	res := Analyze(specs, nil, []string{"FM-SES-2", "FM-WH-1", "FM-WH-4"}, false)
	dir := t.TempDir()
	meta := Meta{SuiteVersion: "v0.0.0-test", ContractSHA256: strings.Repeat("ab", 32), Target: "external http://x", Header: "h"}
	if err := WriteBundle(dir, types.Report{SpecReports: specs}, res, meta); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"summary.json", "summary.txt", "junit.xml", "report.html", "reproducers/signs_urls.sh"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the bundle lacks %s: %v", name, err)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	for _, s := range []string{`"version": "v0.0.0-test"`, `"contract_sha256": "abab`, `"verdict": "FAIL"`, `"outcome": "not applicable"`, `"not oldest first"`, `"reproducer": "reproducers/signs_urls.sh"`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("summary.json lacks %s:\n%s", s, js)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, s := range []string{"<!doctype html>", "FM-SES-2: 200, want 403", "curl -sS -i http://x/blob/1?t=1", "not oldest first"} {
		if !strings.Contains(string(html), s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
}
