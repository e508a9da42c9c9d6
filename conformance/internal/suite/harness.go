package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/facematchtest"
	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
	"github.com/facematch/facematch/conformance/internal/target"
	"github.com/facematch/facematch/conformance/internal/webhooks"
)

// Area labels: every spec carries one, beside the rule ids it checks.
const (
	areaAuth       = "auth"
	areaRateLimit  = "rate-limit"
	areaImages     = "images"
	areaValidation = "validation"
	areaMatching   = "matching"
	areaResponse   = "response"
	areaBilling    = "billing"
	areaSandbox    = "sandbox"
	areaSessions   = "sessions"
	areaWebhooks   = "webhooks"
	// labelSlow marks specs that wait on the server's clock (retries, expiries): seconds each.
	labelSlow = "slow"
	// labelDisruptive marks specs that restart a server.
	labelDisruptive = "disruptive"
)

// The contract's fixed bodies.
const (
	permissionDenied = `{"detail": "You do not have permission to perform this action."}`
	notEnoughCredits = `{"detail": "You do not have enough credits to perform this action.", "error": "not-enough-credits"}`
	notFound         = `{"detail": "Not found."}`
)

// Key is an API key the suite uses, with where it came from (for reports, never the secret).
type Key struct {
	Value string
	Env   string // the environment variable holding it in a reproducer
	Note  string
	// Tenant is the organization, application and key id when the suite created the key.
	Tenant *facematchtest.Tenant
}

// Env is the suite's world.
type Env struct {
	Target    target.Target
	Doc       *openapi3.T
	Router    routers.Router
	Photos    *fixtures.Photos
	PhotosErr error
	Receiver  *webhooks.Receiver
	Certify   bool
	Artifacts string

	// The keys every spec may use. A zero Key is one the target did not provide.
	Live, Sandbox, OtherApp, NoCredit, Revoked, RateLimit Key
	// RateLimits are the write and read budgets the rate-limit specs expect, 0 when unknown.
	WriteLimit, ReadLimit int

	mu   sync.Mutex
	last *report.Request
}

// seedKeys gives the suite its keys: those the environment names (external target), and for
// every key not named, one the suite provisions through the admin command when the target has one
// (always on the container and process targets; FACEMATCH_ADMIN_COMMAND for external).
func (e *Env) seedKeys(ctx context.Context, getenv func(string) string) error {
	if e.Target.Name() == "external" {
		fromEnv := func(name, note string) Key {
			if v := getenv(name); v != "" {
				return Key{Value: v, Env: name, Note: note}
			}
			return Key{}
		}
		e.Live = fromEnv("FACEMATCH_LIVE_KEY", "a live key whose organization has credits")
		e.Sandbox = fromEnv("FACEMATCH_SANDBOX_KEY", "a sandbox key")
		e.OtherApp = fromEnv("FACEMATCH_OTHER_APP_KEY", "a live key of another application")
		e.NoCredit = fromEnv("FACEMATCH_NO_CREDIT_KEY", "a live key whose organization has no credit")
		e.Revoked = fromEnv("FACEMATCH_REVOKED_KEY", "a revoked key")
		e.RateLimit = fromEnv("FACEMATCH_RATE_LIMIT_KEY", "a key kept for the rate-limit specs")
		switch limits := getenv("FACEMATCH_RATE_LIMITS"); limits {
		case "":
		case "default":
			e.WriteLimit, e.ReadLimit = 300, 600
		default:
			w, r, _ := strings.Cut(limits, ",")
			var err1, err2 error
			e.WriteLimit, err1 = strconv.Atoi(strings.TrimSpace(w))
			e.ReadLimit, err2 = strconv.Atoi(strings.TrimSpace(r))
			if err1 != nil || err2 != nil {
				return fmt.Errorf("FACEMATCH_RATE_LIMITS=%q: want \"default\" or WRITE,READ such as 300,600", limits)
			}
		}
	} else {
		e.WriteLimit, e.ReadLimit = 300, 600 // the suite's servers run with the default limits
	}
	admin := e.Target.Main().Admin()
	if admin == nil {
		return nil
	}
	tenant := func(name string, credits int64, sandbox bool) (Key, error) {
		t, err := facematchtest.NewTenant(ctx, facematchtest.AdminFunc(admin), name, credits, sandbox)
		if err != nil {
			return Key{}, err
		}
		mode := "live"
		if sandbox {
			mode = "sandbox"
		}
		return Key{Value: t.Key, Env: "FACEMATCH_KEY", Note: fmt.Sprintf("the %s key %s seeded by the suite (key id %s, organization %s with %d credits)", mode, redact(t.Key), t.KeyID, t.OrgID, credits), Tenant: &t}, nil
	}
	var err error
	if e.Live.Value == "" {
		if e.Live, err = tenant("conformance live", 100000, false); err != nil {
			return err
		}
	}
	if e.Sandbox.Value == "" {
		if e.Sandbox, err = tenant("conformance sandbox", 0, true); err != nil {
			return err
		}
	}
	if e.NoCredit.Value == "" {
		if e.NoCredit, err = tenant("conformance no credit", 0, false); err != nil {
			return err
		}
	}
	// Another application of the live key's own organization: only the application differs.
	if e.OtherApp.Value == "" && e.Live.Tenant != nil {
		if e.OtherApp, err = e.newAppKey(ctx, e.Live.Tenant.OrgID, false); err != nil {
			return err
		}
	}
	if e.Revoked.Value == "" {
		owner := e.Live.Tenant
		if owner == nil {
			k, err := tenant("conformance revoked", 0, false)
			if err != nil {
				return err
			}
			owner = k.Tenant
		}
		if e.Revoked, err = e.newKey(ctx, owner, "a revoked key"); err != nil {
			return err
		}
		if _, err := admin(ctx, "key", "revoke", "--id", e.Revoked.Tenant.KeyID); err != nil {
			return err
		}
	}
	return nil
}

// newAppKey creates an application in org and a key for it.
func (e *Env) newAppKey(ctx context.Context, org string, sandbox bool) (Key, error) {
	admin := e.Target.Main().Admin()
	args := []string{"app", "create", "--org", org, "--name", "conformance app"}
	if sandbox {
		args = append(args, "--sandbox")
	}
	out, err := admin(ctx, args...)
	if err != nil {
		return Key{}, err
	}
	var app struct{ ID string }
	if err := json.Unmarshal(out, &app); err != nil {
		return Key{}, err
	}
	return e.newKey(ctx, &facematchtest.Tenant{OrgID: org, AppID: app.ID}, "a key of another application of the live organization")
}

// newKey creates another key of t's application.
func (e *Env) newKey(ctx context.Context, t *facematchtest.Tenant, note string) (Key, error) {
	out, err := e.Target.Main().Admin()(ctx, "key", "create", "--app", t.AppID)
	if err != nil {
		return Key{}, err
	}
	var k struct{ ID, Key string }
	if err := json.Unmarshal(out, &k); err != nil {
		return Key{}, err
	}
	nt := *t
	nt.KeyID, nt.Key = k.ID, k.Key
	return Key{Value: k.Key, Env: "FACEMATCH_KEY", Note: note + " " + redact(k.Key) + " (key id " + k.ID + ")", Tenant: &nt}, nil
}

// redact keeps a key's prefix and id, never its secret.
func redact(key string) string {
	if i := strings.LastIndexByte(key, '_'); i > 0 {
		return key[:i+1] + "…"
	}
	return "…"
}

func (e *Env) resetLastRequest() {
	e.mu.Lock()
	e.last = nil
	e.mu.Unlock()
}

func (e *Env) lastRequest() *report.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// skipOrFail skips the current spec with reason, or fails it in certify mode, where every spec
// must run.
func skipOrFail(reason string) {
	if env.Certify {
		Fail("certify: this spec cannot run: " + reason)
	}
	Skip(reason)
}

// notApplicable skips the current spec as one that needs control over the server (its clock, a
// restart, other settings) which the target does not give: the report lists it, and it is no
// failure when certifying, since no implementation could pass it from outside.
func notApplicable(reason string) {
	Skip(report.NotApplicablePrefix + reason)
}

// need skips (or fails, when certifying) unless ok.
func need(ok bool, reason string) {
	if !ok {
		skipOrFail(reason)
	}
}

// needKey returns k, or skips when the target did not provide it.
func needKey(k Key, what string) Key {
	need(k.Value != "", fmt.Sprintf("needs %s (external target: set %s)", what, externalKeyVar(what)))
	return k
}

func externalKeyVar(what string) string {
	switch {
	case strings.Contains(what, "sandbox"):
		return "FACEMATCH_SANDBOX_KEY"
	case strings.Contains(what, "another application"):
		return "FACEMATCH_OTHER_APP_KEY"
	case strings.Contains(what, "no credit"):
		return "FACEMATCH_NO_CREDIT_KEY"
	case strings.Contains(what, "revoked"):
		return "FACEMATCH_REVOKED_KEY"
	case strings.Contains(what, "rate-limit"):
		return "FACEMATCH_RATE_LIMIT_KEY and FACEMATCH_RATE_LIMITS"
	}
	return "FACEMATCH_LIVE_KEY"
}

// live, sandbox, ... are the suite's keys, skipping the spec when absent.
func live() Key     { return needKey(env.Live, "a live key with credits") }
func sandbox() Key  { return needKey(env.Sandbox, "a sandbox key") }
func otherApp() Key { return needKey(env.OtherApp, "a live key of another application") }
func noCredit() Key { return needKey(env.NoCredit, "a live key whose organization has no credit") }

// needAdmin returns the main server's admin CLI, or skips: creating organizations and reading
// balances needs it (container and process targets; FACEMATCH_ADMIN_COMMAND for external).
func needAdmin(why string) target.AdminFunc {
	a := env.Target.Main().Admin()
	need(a != nil, why+": needs the admin CLI (external target: set FACEMATCH_ADMIN_COMMAND)")
	return a
}

// newTenant creates a fresh organization with credits, an application and its key.
func newTenant(credits int64, sandboxMode bool, why string) Key {
	admin := needAdmin(why)
	t, err := facematchtest.NewTenant(context.Background(), facematchtest.AdminFunc(admin), "conformance "+report.Slug(CurrentSpecReport().LeafNodeText), credits, sandboxMode)
	Expect(err).NotTo(HaveOccurred())
	mode := "live"
	if sandboxMode {
		mode = "sandbox"
	}
	return Key{Value: t.Key, Env: "FACEMATCH_KEY", Note: fmt.Sprintf("a %s key %s made for this spec (key id %s, organization %s)", mode, redact(t.Key), t.KeyID, t.OrgID), Tenant: &t}
}

// addCredits adds n credits to the key's organization and returns the new balance.
func addCredits(k Key, n int64) int64 {
	admin := needAdmin("changing a balance")
	out, err := admin(context.Background(), "credits", "add", "--org", k.Tenant.OrgID, "--amount", strconv.FormatInt(n, 10))
	Expect(err).NotTo(HaveOccurred())
	var res struct{ Credits int64 }
	Expect(json.Unmarshal(out, &res)).To(Succeed(), "credits add printed %s", out)
	return res.Credits
}

// needReceiver returns the suite's webhook receiver, or skips.
func needReceiver() *webhooks.Receiver {
	need(env.Receiver != nil, "needs a webhook receiver the server can reach (external target: set FACEMATCH_WEBHOOK_LISTEN and FACEMATCH_WEBHOOK_PUBLIC_URL)")
	return env.Receiver
}

// photo reads a photo of a role, or skips without photos.
func photo(r fixtures.Role) fixtures.File {
	f, err := env.Photos.Role(r)
	need(err == nil, fmt.Sprintf("needs %s: %v", r.Means, err))
	return f
}

// namedPhoto reads a photo of the faces folder by path, or skips.
func namedPhoto(rel string) fixtures.File {
	f, err := env.Photos.Get(rel)
	need(err == nil, fmt.Sprintf("needs the photo %s of the faces folder: %v", rel, err))
	return f
}

// Call is one request of a spec.
type Call struct {
	Method string
	Path   string // under the base URL; or URL
	URL    string // absolute, for URLs the server gave out
	Key    Key
	RawKey *string // an exact x-api-key value instead of Key (malformed keys)
	Header [][2]string
	Parts  []report.Part // multipart/form-data
	JSON   any           // a JSON body
	Body   []byte        // a raw body, with ContentType
	CT     string
	// Throttle lets a 429 through: without it the suite waits Retry-After and sends again, so
	// that only the rate-limit specs see the limit.
	Throttle bool
}

// Resp is an answer.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Map decodes a JSON object body.
func (r Resp) Map() map[string]any {
	var m map[string]any
	ExpectWithOffset(1, json.Unmarshal(r.Body, &m)).To(Succeed(), "body is not a JSON object: %s", r.Body)
	return m
}

// Decode decodes a JSON body into v.
func (r Resp) Decode(v any) {
	ExpectWithOffset(1, json.Unmarshal(r.Body, v)).To(Succeed(), "body: %s", r.Body)
}

// field is a multipart value part; file a file part.
func field(name, value string) report.Part { return report.Part{Name: name, Value: value} }

func file(name string, f fixtures.File) report.Part {
	return report.Part{Name: name, FileName: f.Name, Data: f.Data, Origin: f.Origin, IsFile: true}
}

// fields turns name, value pairs into parts.
func fields(kv ...string) []report.Part {
	var out []report.Part
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, field(kv[i], kv[i+1]))
	}
	return out
}

// encode builds the request body and its content type.
func (c Call) encode() ([]byte, string, error) {
	switch {
	case c.Parts != nil:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, p := range c.Parts {
			if p.IsFile {
				h := make(textproto.MIMEHeader)
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.Name, p.FileName))
				h.Set("Content-Type", "application/octet-stream")
				pw, err := w.CreatePart(h)
				if err != nil {
					return nil, "", err
				}
				pw.Write(p.Data)
			} else if err := w.WriteField(p.Name, p.Value); err != nil {
				return nil, "", err
			}
		}
		if err := w.Close(); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), w.FormDataContentType(), nil
	case c.JSON != nil:
		b, err := json.Marshal(c.JSON)
		return b, "application/json", err
	case c.Body != nil:
		return c.Body, c.CT, nil
	}
	return nil, "", nil
}

func (c Call) url() string {
	if c.URL != "" {
		return c.URL
	}
	return env.Target.Main().BaseURL() + c.Path
}

func (c Call) keyValue() string {
	if c.RawKey != nil {
		return *c.RawKey
	}
	return c.Key.Value
}

// record keeps the call as the spec's last request, for the curl reproducer.
func (c Call) record(body []byte, ct string) {
	r := &report.Request{Method: c.Method, URL: c.url(), Header: c.Header}
	if k := c.keyValue(); k != "" {
		r.Key, r.KeyEnv, r.KeyNote = k, c.Key.Env, c.Key.Note
		if c.RawKey != nil || r.KeyEnv == "" {
			r.KeyEnv, r.KeyNote = "FACEMATCH_KEY", "the key the spec sent: "+redact(k)
		}
	}
	if c.Parts != nil {
		r.Parts = c.Parts
	} else if body != nil {
		r.Body, r.ContentType = body, ct
	}
	env.mu.Lock()
	env.last = r
	env.mu.Unlock()
}

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// send sends the call once; it is safe in goroutines and asserts nothing.
func send(ctx context.Context, c Call) (Resp, error) {
	body, ct, err := c.encode()
	if err != nil {
		return Resp{}, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.url(), rd)
	if err != nil {
		return Resp{}, err
	}
	if k := c.keyValue(); k != "" {
		req.Header.Set("x-api-key", k)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for _, h := range c.Header {
		req.Header.Add(h[0], h[1])
	}
	c.record(body, ct)
	res, err := httpClient.Do(req)
	if err != nil {
		return Resp{}, err
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	return Resp{Status: res.StatusCode, Header: res.Header, Body: rb}, err
}

// do sends the call and checks that the answer is no 401, which the API never answers (FM-AUTH-1).
// It does not check the answer's shape against openapi.yaml: the shape specs (shape_test.go) do,
// one per operation, so that one wrong field fails one spec, not every spec that touches the
// endpoint. Without c.Throttle it waits out a 429 and sends again.
func do(c Call) Resp {
	GinkgoHelper()
	for attempt := 0; ; attempt++ {
		r, err := send(context.Background(), c)
		Expect(err).NotTo(HaveOccurred(), "%s %s", c.Method, c.url())
		Expect(r.Status).NotTo(Equal(http.StatusUnauthorized), "%s %s answered 401: the API never does (FM-AUTH-1); body %s", c.Method, c.url(), r.Body)
		if r.Status == http.StatusTooManyRequests && !c.Throttle && attempt < 3 {
			wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
			wait = min(max(wait, 1), 61)
			fmt.Fprintf(GinkgoWriter, "%s %s throttled: waiting %d s (Retry-After) before sending it again\n", c.Method, c.url(), wait)
			time.Sleep(time.Duration(wait) * time.Second)
			continue
		}
		return r
	}
}

// expectShape checks an answer against its operation in openapi.yaml, naming the spec's rules.
func expectShape(c Call, r Resp) {
	GinkgoHelper()
	if err := validateResponse(c, r); err != nil {
		Fail(fmt.Sprintf("%s: the answer's shape differs from openapi.yaml: %v", strings.Join(report.Rules(CurrentSpecReport().Labels()), ","), err))
	}
}

// validateResponse checks an answer against its operation in openapi.yaml.
func validateResponse(c Call, r Resp) error {
	body, ct, err := c.encode()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(c.Method, c.url(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	route, params, err := env.Router.FindRoute(req)
	if err != nil {
		return nil // not an operation of the document (an unknown path or method): nothing to check against
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return fmt.Errorf("%s %s -> %d does not match openapi.yaml: %v\nbody: %.600s", c.Method, c.url(), r.Status, err, r.Body)
	}
	return nil
}

// faceMatch posts a face-match call: user_image, ref_image, then the fields as name, value pairs.
func faceMatch(k Key, user, ref fixtures.File, kv ...string) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k,
		Parts: append([]report.Part{file("user_image", user), file("ref_image", ref)}, fields(kv...)...)})
}

// postForm posts arbitrary parts to the face-match endpoint.
func postForm(k Key, parts ...report.Part) Resp {
	GinkgoHelper()
	if parts == nil {
		parts = []report.Part{}
	}
	return do(Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k, Parts: parts})
}

// decision gets a session's decision; deleteSession deletes it.
func decision(k Key, id string) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodGet, Path: "/v3/session/" + id + "/decision/", Key: k})
}

func deleteSession(k Key, id string) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodDelete, Path: "/v3/session/" + id + "/delete/", Key: k})
}

// fetch gets a URL the server gave out, without a key.
func fetch(url string) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodGet, URL: url})
}

// FaceMatchBody is the body of a 200 answer to POST /v3/face-match/.
type FaceMatchBody struct {
	RequestID string `json:"request_id"`
	FaceMatch struct {
		Status   string      `json:"status"`
		Score    *float64    `json:"score"`
		User     ImageResult `json:"user_image"`
		Ref      ImageResult `json:"ref_image"`
		Warnings []Warning   `json:"warnings"`
	} `json:"face_match"`
	VendorData *string         `json:"vendor_data"`
	Metadata   json.RawMessage `json:"metadata"`
	CreatedAt  string          `json:"created_at"`
}

// ImageResult is what was found in one image.
type ImageResult struct {
	Entities []struct {
		BBox       []int    `json:"bbox"`
		Confidence *float64 `json:"confidence"`
		Age        *float64 `json:"age"`
		Gender     *string  `json:"gender"`
	} `json:"entities"`
	BestAngle int `json:"best_angle"`
}

// Warning is a warning object.
type Warning struct {
	Feature          string         `json:"feature"`
	Risk             string         `json:"risk"`
	LogType          string         `json:"log_type"`
	ShortDescription string         `json:"short_description"`
	LongDescription  string         `json:"long_description"`
	AdditionalData   map[string]any `json:"additional_data"`
	NodeID           *string        `json:"node_id"`
}

// matchOf checks a 200 and decodes it.
func matchOf(r Resp) FaceMatchBody {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
	var fm FaceMatchBody
	r.Decode(&fm)
	return fm
}

// expectBody checks a JSON body equals want, whatever the spacing and key order.
func expectBody(r Resp, want string) {
	GinkgoHelper()
	Expect(r.Body).To(MatchJSON(want))
}

// expectRateLimitHeaders checks the three X-RateLimit-* headers are whole numbers.
func expectRateLimitHeaders(r Resp) {
	GinkgoHelper()
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		v := r.Header.Get(h)
		Expect(v).NotTo(BeEmpty(), "%s missing on a %d to a valid key", h, r.Status)
		_, err := strconv.ParseInt(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "%s: %q is not a whole number", h, v)
	}
}

// note records an observation about a choice the contract leaves open, where the target differs
// from our server (an x-facematch-* extension of openapi.yaml): informational, never a failure.
// The summary lists the notes with the rule ids of the spec that made them.
func note(format string, args ...any) {
	AddReportEntry(report.NoteEntry, fmt.Sprintf(format, args...), ReportEntryVisibilityNever)
}

// extension is the value of an x-facematch-* extension of a component schema, or nil.
func extension(schemaName, name string) any {
	if ref := env.Doc.Components.Schemas[schemaName]; ref != nil && ref.Value != nil {
		return ref.Value.Extensions[name]
	}
	return nil
}

// strptr is a pointer to s.
func strptr(s string) *string { return &s }

// startServer starts an extra server with flags for one spec container, or skips.
func startServer(flags ...string) target.Server {
	if env.Target.Name() == "external" {
		notApplicable("starts a server with other settings (" + strings.Join(flags, " ") + "): container and process targets only")
	}
	s, err := env.Target.Start(context.Background(), flags...)
	if s != nil {
		DeferCleanup(func(ctx SpecContext) { s.Stop(ctx) })
	}
	Expect(err).NotTo(HaveOccurred())
	return s
}

// on returns the call aimed at server s instead of the main one.
func on(s target.Server, c Call) Call {
	c.URL = s.BaseURL() + c.Path
	return c
}

// tenantOn creates a tenant on server s.
func tenantOn(s target.Server, credits int64) Key {
	t, err := facematchtest.NewTenant(context.Background(), facematchtest.AdminFunc(s.Admin()), "conformance", credits, false)
	Expect(err).NotTo(HaveOccurred())
	return Key{Value: t.Key, Env: "FACEMATCH_KEY", Note: "a live key " + redact(t.Key) + " of a server started for this spec", Tenant: &t}
}

// osGetenv reads an operator setting: the environment, else the configuration file.
var osGetenv = getenv

// ctx is the context of requests made outside a spec's own.
func ctx() context.Context { return context.Background() }
