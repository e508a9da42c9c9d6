package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Meta is what a results bundle says about the run besides its verdicts.
type Meta struct {
	SuiteVersion   string // the suite's module version, or devel and its revision
	ContractSHA256 string // of the openapi.yaml the suite checked against
	Target         string // container, process or external, with the server it ran against
	Header         string // the summary's first line
}

// Outcome names, as the bundle writes them.
var outcomeNames = map[Outcome]string{
	NotRun: "not run", Skipped: "skipped", Passed: "passed", Failed: "failed",
	ExpectedFailure: "expected failure", NotApplicable: "not applicable",
}

// bundleSpec is one spec in summary.json and report.html.
type bundleSpec struct {
	Name       string   `json:"name"`
	Rules      []string `json:"rules"`
	Outcome    string   `json:"outcome"`
	Message    string   `json:"message,omitempty"`
	Reproducer string   `json:"reproducer,omitempty"` // a file of the bundle
	Curl       string   `json:"-"`
	Notes      []string `json:"notes,omitempty"`
}

type bundleRule struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Passed int    `json:"passed"`
	Run    int    `json:"run"`
}

// summary is summary.json.
type summary struct {
	Suite struct {
		Version        string `json:"version"`
		ContractSHA256 string `json:"contract_sha256"`
	} `json:"suite"`
	Target     string         `json:"target"`
	Certify    bool           `json:"certify"`
	Verdict    string         `json:"verdict"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Counts     map[string]int `json:"counts"`
	Rules      []bundleRule   `json:"rules"`
	Specs      []bundleSpec   `json:"specs"`
}

// WriteBundle writes the results bundle of a run into dir: summary.json (the suite's version, the
// contract's sha256, the verdict by rule and by spec), summary.txt (the one-screen summary),
// junit.xml (expected failures marked skipped), reproducers/*.sh (the curl command of every
// failed spec) and report.html, a static page to open in a browser.
func WriteBundle(dir string, report types.Report, res Result, meta Meta) error {
	if err := os.MkdirAll(filepath.Join(dir, "reproducers"), 0o755); err != nil {
		return err
	}
	var s summary
	s.Suite.Version, s.Suite.ContractSHA256 = meta.SuiteVersion, meta.ContractSHA256
	s.Target, s.Certify = meta.Target, res.Certify
	s.Verdict = "FAIL"
	if res.Passed() {
		s.Verdict = "PASS"
	}
	s.StartedAt, s.FinishedAt = report.StartTime.UTC(), report.EndTime.UTC()
	s.Counts = map[string]int{}
	for _, sp := range res.Specs {
		s.Counts[outcomeNames[sp.Outcome]]++
		b := bundleSpec{Name: sp.Report.FullText(), Rules: sp.Rules, Outcome: outcomeNames[sp.Outcome]}
		if b.Rules == nil {
			b.Rules = []string{}
		}
		if sp.Outcome != Passed && sp.Outcome != NotRun {
			b.Message = firstLine(sp.Report.Failure.Message)
		}
		for _, e := range sp.Report.ReportEntries {
			switch e.Name {
			case NoteEntry:
				b.Notes = append(b.Notes, firstLine(e.StringRepresentation()))
			case ReproducerEntry:
				if sp.Outcome == Failed || sp.Outcome == ExpectedFailure {
					b.Curl = e.StringRepresentation()
					b.Reproducer = filepath.Join("reproducers", Slug(b.Name)+".sh")
					script := fmt.Sprintf("#!/bin/sh\n# %s\n# rules: %s\n# %s\n%s\n", b.Name, strings.Join(b.Rules, " "), b.Message, b.Curl)
					if err := os.WriteFile(filepath.Join(dir, b.Reproducer), []byte(script), 0o755); err != nil {
						return err
					}
				}
			}
		}
		s.Specs = append(s.Specs, b)
	}
	sort.SliceStable(s.Specs, func(i, j int) bool { return specRank(s.Specs[i].Outcome) < specRank(s.Specs[j].Outcome) })
	for _, r := range res.Rules {
		s.Rules = append(s.Rules, bundleRule{ID: r.ID, Status: r.Status(), Passed: r.Passed, Run: r.Runs})
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	text := res.Summary(meta.Header)
	for name, data := range map[string][]byte{"summary.json": js, "summary.txt": []byte(text)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	if err := WriteJUnit(report, res, filepath.Join(dir, "junit.xml")); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	defer f.Close()
	return page.Execute(f, struct {
		Meta
		S    summary
		Text string
	}{meta, s, text})
}

func specRank(outcome string) int {
	return map[string]int{"failed": 0, "expected failure": 1, "skipped": 2, "not applicable": 3, "passed": 4, "not run": 5}[outcome]
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"join": strings.Join,
	"class": func(s string) string {
		switch {
		case strings.HasPrefix(s, "FAIL") || s == "failed":
			return "fail"
		case strings.HasPrefix(s, "pass") || s == "passed":
			return "pass"
		}
		return "other"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Face Match API conformance: {{.S.Verdict}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
h1 .PASS{color:#17702f}h1 .FAIL{color:#b3261e}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
.pass{background:#e6f4ea}.fail{background:#fce8e6}.other{background:#f4f4f4}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;white-space:pre-wrap}code{font-size:12px}
</style></head><body>
<h1>Face Match API conformance: <span class="{{.S.Verdict}}">{{.S.Verdict}}</span></h1>
<p>Target: {{.S.Target}}{{if .S.Certify}} (certification run){{end}}<br>
Suite {{.S.Suite.Version}}, contract (openapi.yaml) sha256 <code>{{.S.Suite.ContractSHA256}}</code><br>
From {{.S.StartedAt.Format "2006-01-02 15:04:05"}} to {{.S.FinishedAt.Format "15:04:05"}} UTC.
Specs: {{range $k, $v := .S.Counts}}{{$v}} {{$k}}; {{end}}</p>
<h2>Rules</h2>
<table><tr><th>rule</th><th>status</th><th>specs passed / run</th></tr>
{{range .S.Rules}}<tr class="{{class .Status}}"><td>{{.ID}}</td><td>{{.Status}}</td><td>{{.Passed}} / {{.Run}}</td></tr>
{{end}}</table>
<h2>Specs</h2>
<table><tr><th>outcome</th><th>rules</th><th>spec</th></tr>
{{range .S.Specs}}<tr class="{{class .Outcome}}"><td>{{.Outcome}}</td><td>{{join .Rules " "}}</td><td>{{.Name}}
{{if .Message}}<pre>{{.Message}}</pre>{{end}}{{if .Curl}}<pre><code>{{.Curl}}</code></pre><a href="{{.Reproducer}}">{{.Reproducer}}</a>{{end}}
{{range .Notes}}<p><em>note:</em> {{.}}</p>{{end}}</td></tr>
{{end}}</table>
<h2>Summary</h2>
<pre>{{.Text}}</pre>
</body></html>
`))
