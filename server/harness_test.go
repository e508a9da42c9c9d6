package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/matcher"
	"github.com/facematch/facematch/sandbox"
	"github.com/facematch/facematch/server"
	"github.com/facematch/facematch/sqlite"
	"github.com/facematch/facematch/webhook"
)

var (
	matcherOnce sync.Once
	theMatcher  *matcher.Matcher
	matcherErr  error
)

// realMatcher loads the real dlib matcher once for the package (models from `make models`).
func realMatcher(t testing.TB) *matcher.Matcher {
	t.Helper()
	matcherOnce.Do(func() {
		theMatcher, matcherErr = matcher.New(matcher.Config{Models: filepath.Join(shared.RepoRoot(), "models"), Workers: 2})
	})
	if matcherErr != nil {
		t.Fatalf("%v (run `make models`)", matcherErr)
	}
	return theMatcher
}

// fixedMatcher is the matcher of server tests that are not about matching: it decodes nothing,
// finds one face in each image and gives every pair the same score, so that tests of keys,
// limits, billing, sessions and webhooks run without dlib. FM-MATCH tests use realMatcher.
type fixedMatcher struct{ score float64 }

func (m fixedMatcher) Match(ctx context.Context, in facematch.MatchInput) (facematch.FaceMatch, error) {
	if err := ctx.Err(); err != nil {
		return facematch.FaceMatch{}, err
	}
	score := m.score
	face := facematch.ImageResult{Entities: []facematch.Entity{{BBox: [4]int{10, 10, 110, 110}}}}
	return facematch.Decide(&score, face, face, in.Threshold), nil
}

// stalledMatcher is a matcher that is still working when the client gives up: it answers only
// when the request's context ends, with the context's error.
type stalledMatcher struct{}

func (stalledMatcher) Match(ctx context.Context, _ facematch.MatchInput) (facematch.FaceMatch, error) {
	<-ctx.Done()
	return facematch.FaceMatch{}, ctx.Err()
}

// withMatcher compares faces with m.
func withMatcher(m facematch.Matcher) envOption {
	return func(c *server.Config) { c.Matcher = m }
}

// fixedScore is the score fixedMatcher gives.
const fixedScore = 87.35

// clock is a time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is one API server on a temp data folder, served over real HTTP, with the real matcher and
// SQLite, a clock tests can move, and helpers to seed tenants.
type env struct {
	t     testing.TB
	db    *sqlite.DB
	srv   *httptest.Server
	clock *clock
	oa    routers.Router
}

type envOption func(*server.Config)

// withPrivateWebhooks lets destinations on loopback (the tests' receivers) be saved.
func withPrivateWebhooks() envOption {
	return func(c *server.Config) { c.Guard = &webhook.Guard{AllowPrivate: true} }
}

// withRealMatcher compares faces with the real dlib matcher (models from `make models`), for the
// tests whose subject is matching or decoding.
func withRealMatcher() envOption {
	return func(c *server.Config) { c.Matcher = nil }
}

func withLimits(write, read int) envOption {
	return func(c *server.Config) { c.WriteLimit, c.ReadLimit = write, read }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	db.Now = clk.Now
	sb, err := sandbox.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Store: db, Matcher: fixedMatcher{score: fixedScore}, Sandbox: sb, Now: clk.Now,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Matcher == nil {
		cfg.Matcher = realMatcher(t)
	}
	if cfg.Guard == nil {
		cfg.Guard = &webhook.Guard{}
	}
	// The dispatcher of serve, on the same store and clock, polling often.
	dispatcher := &webhook.Dispatcher{
		Store: db, Guard: cfg.Guard, Backoff: []time.Duration{time.Minute, 4 * time.Minute}, Poll: 20 * time.Millisecond,
		Now: clk.Now, Logger: cfg.Logger,
	}
	cfg.Notify = dispatcher.Notify
	dctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { dispatcher.Run(dctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	doc, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	oa, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, srv: hs, clock: clk, oa: oa}
}

// tenant is an organization with one application and one key.
type tenant struct {
	org facematch.Organization
	app facematch.Application
	key string
	id  string // key id
}

func (e *env) tenant(credits int64, mode facematch.Mode) tenant {
	e.t.Helper()
	ctx := context.Background()
	o, err := e.db.CreateOrganization(ctx, "org", credits)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.appIn(o, mode)
}

// appIn adds an application with a key to an existing organization.
func (e *env) appIn(o facematch.Organization, mode facematch.Mode) tenant {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.db.CreateApplication(ctx, o.ID, "app", mode)
	if err != nil {
		e.t.Fatal(err)
	}
	id, secret, full := facematch.NewAPIKey(mode)
	if _, err := e.db.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: a.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		e.t.Fatal(err)
	}
	return tenant{org: o, app: a, key: full, id: id}
}

func (e *env) credits(orgID string) int64 {
	e.t.Helper()
	o, err := e.db.Organization(context.Background(), orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	return o.Credits
}

// response is an answer, already validated against openapi.yaml.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request and validates the answer against its operation in openapi.yaml: every
// response of every test is checked against the contract.
func (e *env) do(req *http.Request) response {
	e.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode == http.StatusUnauthorized {
		e.t.Fatalf("%s %s answered 401: the API never does (FM-AUTH-1)", req.Method, req.URL.Path)
	}
	e.validateResponse(req, reqBody, res, body)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func (e *env) validateResponse(req *http.Request, reqBody []byte, res *http.Response, body []byte) {
	e.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := e.oa.FindRoute(vreq)
	if err != nil {
		return // not an operation of the document (e.g. an unknown /v3/ path)
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		e.t.Errorf("%s %s -> %d does not match openapi.yaml: %v\nbody: %.500s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
}

func (e *env) request(method, path, key string, body io.Reader, contentType string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// file is an image part of a form.
type file struct {
	field, name string
	data        []byte
}

// form is a multipart body; fields are sent in order, repeated names included.
func form(t testing.TB, files []file, fields ...string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(f.data)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		w.WriteField(fields[i], fields[i+1])
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

// faceMatch posts a face-match call with two images and extra fields.
func (e *env) faceMatch(key string, user, ref file, fields ...string) response {
	e.t.Helper()
	user.field, ref.field = "user_image", "ref_image"
	body, ct := form(e.t, []file{user, ref}, fields...)
	return e.do(e.request(http.MethodPost, "/v3/face-match/", key, body, ct))
}

// photo is a shared fixture photo as a form file.
func photo(t testing.TB, rel string) file {
	t.Helper()
	return file{name: filepath.Base(rel), data: shared.Read(t, "fixtures", "faces", rel)}
}

func (e *env) decision(key, id string) response {
	return e.do(e.request(http.MethodGet, "/v3/session/"+id+"/decision/", key, nil, ""))
}

func (e *env) deleteSession(key, id string) response {
	return e.do(e.request(http.MethodDelete, "/v3/session/"+id+"/delete/", key, nil, ""))
}

// get fetches a URL the server gave out (an image URL) and validates the answer.
func (e *env) get(url string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %.600s", r.status, status, r.body)
	}
}

func wantBody(t testing.TB, r response, body string) {
	t.Helper()
	var got, want any
	json.Unmarshal(r.body, &got)
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("body %s, want %s", r.body, body)
	}
}

// faceMatchOf decodes the face_match object of a 200.
func faceMatchOf(t testing.TB, r response) facematch.FaceMatchResponse {
	t.Helper()
	var fm facematch.FaceMatchResponse
	if err := json.Unmarshal(r.body, &fm); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return fm
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
