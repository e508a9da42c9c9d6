package suite

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/routers/gorillamux"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance"
	"github.com/facematch/facematch/conformance/internal/behaviours"
	"github.com/facematch/facematch/conformance/internal/config"
	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
	"github.com/facematch/facematch/conformance/internal/target"
	"github.com/facematch/facematch/conformance/internal/webhooks"
)

// The suite's own flags. Each has an environment variable, for runs through make or CI.
var (
	flagTarget   = flag.String("target", "", "container, process or external (default: $FACEMATCH_TARGET, else container)")
	flagCertify  = flag.Bool("certify", false, "certification run: a skipped spec fails, expected failures excuse nothing, every rule must pass (also FACEMATCH_CERTIFY=1)")
	flagExpected = flag.String("expected-failures", "", "file of rule ids whose failures are expected (default: $FACEMATCH_EXPECTED_FAILURES, else conformance/expected-failures.txt of the checkout)")
	flagJUnit    = flag.String("junit", "", "write JUnit XML here, expected failures marked skipped (also FACEMATCH_JUNIT); -ginkgo.junit-report writes Ginkgo's raw report")
	flagConfig   = flag.String("config", "", "a JSON file of settings (also FACEMATCH_CONFIG): base URL, keys or admin command, webhooks, output; environment variables override it")
)

// The settings: the environment first, then the configuration file.
var settings struct {
	once sync.Once
	get  func(string) string
	err  error
}

// getenv reads a setting of the run: the environment variable, else the configuration file's.
func getenv(name string) string {
	settings.once.Do(func() {
		path := *flagConfig
		if path == "" {
			path = os.Getenv("FACEMATCH_CONFIG")
		}
		file := map[string]string{}
		if path != "" {
			if file, settings.err = config.Load(path); settings.err != nil {
				file = map[string]string{}
			}
		}
		settings.get = config.Getenv(file, os.LookupEnv)
	})
	return settings.get(name)
}

// certifying tells whether this run certifies (-certify, FACEMATCH_CERTIFY).
func certifying() bool {
	v := getenv("FACEMATCH_CERTIFY")
	return *flagCertify || v == "1" || v == "true"
}

// quietT stands between Ginkgo and testing.T: the suite's verdict, not Ginkgo's, fails the
// test, so that expected failures do not.
type quietT struct{}

// Fail does nothing: the verdict decides.
func (quietT) Fail() {}

// verdict is set by the ReportAfterSuite node.
var verdict = struct {
	set, passed bool
	line        string
}{}

// Run runs the conformance suite against the target the settings name and tells whether the
// verdict is PASS. The command-line flags (the suite's and Ginkgo's -ginkgo.*) must be parsed.
func Run() bool {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if suiteConfig.Timeout == time.Hour { // Ginkgo's default: the whole suite takes minutes
		suiteConfig.Timeout = 30 * time.Minute
	}
	RunSpecs(quietT{}, "Face Match API conformance", suiteConfig, reporterConfig)
	// Ginkgo's own summary above counts expected failures as failures; this is the verdict.
	if verdict.line != "" {
		fmt.Println(verdict.line)
	}
	return verdict.set && verdict.passed
}

// env is the suite's world: the target, the keys, the contract, the photos and the receiver.
var env *Env

var _ = BeforeSuite(func(ctx SpecContext) {
	getenv("")
	Expect(settings.err).NotTo(HaveOccurred())
	certify := certifying()
	if certify {
		sc, _ := GinkgoConfiguration()
		Expect(sc.LabelFilter).To(BeEmpty(), "certify runs every spec: no -ginkgo.label-filter")
		Expect(sc.FocusStrings).To(BeEmpty(), "certify runs every spec: no -ginkgo.focus")
		Expect(sc.SkipStrings).To(BeEmpty(), "certify runs every spec: no -ginkgo.skip")
	}
	cfg := target.ConfigFromEnv(*flagTarget, getenv)
	e := &Env{Certify: certify, Artifacts: cfg.Artifacts}
	doc, err := conformance.LoadContract()
	Expect(err).NotTo(HaveOccurred())
	e.Doc = doc
	doc.Servers = nil // match any host: the document names the default address only
	e.Router, err = gorillamux.NewRouter(doc)
	Expect(err).NotTo(HaveOccurred())
	e.Photos, e.PhotosErr = fixtures.LocatePhotos(getenv, cfg.RepoRoot)
	if e.PhotosErr != nil {
		fmt.Fprintf(GinkgoWriter, "photos: %v (specs that need them are skipped)\n", e.PhotosErr)
	}

	By("starting the " + cfg.Name + " target")
	t, err := target.New(ctx, cfg)
	if t != nil {
		DeferCleanup(func(ctx SpecContext) { Expect(t.Close(ctx)).To(Succeed()) }, NodeTimeout(2*time.Minute))
	}
	Expect(err).NotTo(HaveOccurred())
	e.Target = t
	Expect(e.seedKeys(ctx, getenv)).To(Succeed())

	if listen, public, ok := t.WebhookListen(); ok {
		r, err := webhooks.Listen(listen, public)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(r.Close)
		e.Receiver = r
	}
	env = e
	fmt.Fprintf(GinkgoWriter, "target: %s\n", t.Main().Describe())
}, NodeTimeout(5*time.Minute))

// Every spec starts with no request recorded; a failed one gets a curl command reproducing its
// last request, and the end of the server's log.
var _ = BeforeEach(func() {
	if env != nil {
		env.resetLastRequest()
	}
})

var _ = AfterEach(func() {
	if !CurrentSpecReport().Failed() || env == nil {
		return
	}
	if r := env.lastRequest(); r != nil {
		slug := report.Slug(CurrentSpecReport().FullText())
		AddReportEntry(report.ReproducerEntry, r.Curl(filepath.Join(env.Artifacts, "reproducers"), slug), ReportEntryVisibilityFailureOrVerbose)
	}
	if logs := env.Target.Main().LogTail(); logs != "" {
		AddReportEntry("server log (last lines)", logs, ReportEntryVisibilityFailureOrVerbose)
	}
})

// The summary by rule id, the verdict with the expected failures applied, and the JUnit file.
var _ = ReportAfterSuite("conformance summary", func(r Report) {
	certify := certifying()
	path, optional := expectedFailuresPath()
	expected, err := report.LoadExpected(path, optional)
	if err != nil {
		fmt.Fprintf(os.Stderr, "expected failures: %v\n", err)
		verdict.set, verdict.passed = true, false
		return
	}
	known := knownRules()
	res := report.Analyze(r.SpecReports, expected, known, certify)
	name := getenv("FACEMATCH_TARGET")
	if *flagTarget != "" {
		name = *flagTarget
	}
	if name == "" {
		name = "container"
	}
	header := fmt.Sprintf("Face Match API conformance: target %s, %d rules", name, len(res.Rules))
	if path != "" {
		header += ", expected failures from " + path
	}
	fmt.Println()
	fmt.Print(res.Summary(header))
	verdict.set, verdict.passed = true, res.Passed() && (r.SuiteSucceeded || onlySpecFailures(r))
	verdict.line = "conformance verdict: FAIL"
	if verdict.passed {
		verdict.line = "conformance verdict: PASS"
	}
	if !r.SuiteSucceeded && verdict.passed {
		verdict.line += " (Ginkgo's FAIL above counts the expected failures)"
	}
	junit := *flagJUnit
	if junit == "" {
		junit = getenv("FACEMATCH_JUNIT")
	}
	if junit != "" {
		if err := report.WriteJUnit(r, res, junit); err != nil {
			fmt.Fprintf(os.Stderr, "junit: %v\n", err)
		}
	}
	// The results bundle, beside the reproducer files: what a person or CI keeps of the run.
	dir := target.ConfigFromEnv(*flagTarget, getenv).Artifacts
	described := name
	if env != nil {
		described = name + ": " + env.Target.Main().Describe()
	}
	meta := report.Meta{SuiteVersion: suiteVersion(), ContractSHA256: conformance.ContractSHA256(), Target: described, Header: header}
	if err := report.WriteBundle(dir, r, res, meta); err != nil {
		fmt.Fprintf(os.Stderr, "results bundle: %v\n", err)
	} else {
		fmt.Printf("results: %s (summary.json, junit.xml, reproducers/, report.html)\n", dir)
	}
})

// suiteVersion is the suite's module version (a release, or the pseudo-version go install
// fetched), else "devel" and the commit it was built from when known.
func suiteVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

// onlySpecFailures tells whether the suite failed only through its specs (which the verdict
// weighs), not through a suite-level node such as BeforeSuite.
func onlySpecFailures(r Report) bool {
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt && sr.State.Is(types.SpecStateFailureStates) {
			return false
		}
	}
	return len(r.SpecialSuiteFailureReasons) == 0
}

// expectedFailuresPath is the expected-failures file, and whether it may be missing (the
// default one may; one named explicitly may not).
func expectedFailuresPath() (string, bool) {
	if *flagExpected != "" {
		return *flagExpected, false
	}
	if p := getenv("FACEMATCH_EXPECTED_FAILURES"); p != "" {
		return p, false
	}
	if root := target.RepoRoot(); root != "" {
		return filepath.Join(root, "conformance", "expected-failures.txt"), true
	}
	return "", true
}

// knownRules lists the contract's rule ids the suite certifies (sections 7 and 8, about running
// our own server, are out of its scope) when the spec is at hand, so that the summary shows the
// rules no spec ran; without it the summary lists the rule ids of the specs' labels.
func knownRules() []string {
	spec, err := behaviours.LoadSpec(behaviours.SpecPath(getenv, target.RepoRoot()))
	if err != nil {
		return nil
	}
	return spec.InScope()
}
