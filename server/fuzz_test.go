package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/fuzzseeds"
	"github.com/facematch/facematch/webhook"
)

//go:generate go run ../internal/fuzzseeds/genserver -max-parts 70 .

// The fuzz targets of this package take a request's bytes the way the server does, through the
// validate middleware (the body limit and kin-openapi's decoding of the body against
// openapi.yaml) and then the handler's own parsing: FuzzFaceMatchForm for the multipart form of
// POST /v3/face-match/, FuzzMetadata for its metadata field alone, FuzzDestination for the JSON
// bodies of the webhook destinations. No store, matcher or network is involved: the
// destination URL guard resolves names with a fake resolver. Seeds are in testdata/fuzz
// (`go generate ./server` rewrites the generated ones, files gen-*).

var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
)

// fuzzServer is a Server with what validation needs and nothing else.
func fuzzServer(tb testing.TB) *Server {
	fuzzOnce.Do(func() {
		doc, err := contract.Load()
		if err != nil {
			tb.Fatal(err)
		}
		router, err := openAPIRouter(doc)
		if err != nil {
			tb.Fatal(err)
		}
		fuzzSrv = &Server{
			cfg: Config{
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
				Guard: &webhook.Guard{LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
					if strings.Contains(host, "internal") {
						return []netip.Addr{netip.MustParseAddr("10.0.0.7")}, nil
					}
					return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
				}},
			},
			oaRouter: router,
			bodies:   make(chan struct{}, 8),
			bodyMem:  semaphore.NewWeighted(DefaultBodyMemory),
		}
	})
	return fuzzSrv
}

// validateThen runs a request through the validate middleware and then fn, the way a route
// does; it reports whether fn ran, and what validate answered when it did not.
func validateThen(s *Server, req *http.Request, fn func(v *validation)) (*httptest.ResponseRecorder, bool) {
	ran := false
	rec := httptest.NewRecorder()
	s.validate(func(_ http.ResponseWriter, _ *http.Request, v *validation) {
		ran = true
		fn(v)
	}).ServeHTTP(rec, req)
	return rec, ran
}

// checkFieldErrors checks the FM-VAL-1 shape: every key a known field or non_field_errors,
// every list non-empty and every message non-empty valid text.
func checkFieldErrors(t *testing.T, errs facematch.FieldErrors, known map[string]struct{}) {
	t.Helper()
	for field, msgs := range errs {
		if _, ok := known[field]; !ok && field != "non_field_errors" {
			t.Fatalf("errors keyed by unknown field %q: %v", field, errs)
		}
		if len(msgs) == 0 {
			t.Fatalf("field %q has no message", field)
		}
		for _, m := range msgs {
			if m == "" || !utf8.ValidString(m) {
				t.Fatalf("field %q: bad message %q", field, m)
			}
		}
	}
	if _, err := json.Marshal(errs); err != nil {
		t.Fatal(err)
	}
}

func FuzzFaceMatchForm(f *testing.F) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v3/face-match/", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var (
			form   *faceMatchForm
			fields facematch.FieldErrors
		)
		rec, ran := validateThen(s, req, func(v *validation) {
			form, fields = v.faceMatchForm(contentType)
		})
		if !ran {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("validate answered %d", rec.Code)
			}
			return
		}
		checkFieldErrors(t, fields, formFields)
		if form == nil {
			if len(fields) == 0 {
				t.Fatal("no form and no error")
			}
			return
		}
		for _, u := range []upload{form.user, form.ref} {
			ext := strings.ToLower(strings.TrimPrefix(path.Ext(u.filename), "."))
			if len(u.data) == 0 || len(u.data) > MaxImageBytes || !allowedExtensions[ext] || u.header.Format == "" ||
				u.header.Width*u.header.Height > imaging.MaxPixels {
				t.Fatalf("accepted image %q: %d bytes, %+v", u.filename, len(u.data), u.header)
			}
		}
		if form.threshold < 0 || form.threshold > 100 {
			t.Fatalf("accepted threshold %v", form.threshold)
		}
		if v := form.vendorData; v != nil && (!utf8.ValidString(*v) || utf8.RuneCountInString(*v) > MaxVendorDataChars) {
			t.Fatalf("accepted vendor_data %q", *v)
		}
		if form.metadata != nil {
			checkAcceptedMetadata(t, form.metadata)
		}
	})
}

// checkAcceptedMetadata checks what checkMetadata accepted: a compact JSON object of at most
// 16 KiB, nested at most MaxMetadataDepth deep, that the webhook body can carry
// (webhook.Canonical encodes it).
func checkAcceptedMetadata(t *testing.T, m json.RawMessage) {
	t.Helper()
	var obj map[string]any
	if len(m) > MaxMetadataBytes || json.Unmarshal(m, &obj) != nil || obj == nil {
		t.Fatalf("accepted metadata %q", m)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, m); !bytes.Equal(buf.Bytes(), m) {
		t.Fatalf("metadata %q is not compact", m)
	}
	dec := json.NewDecoder(bytes.NewReader(m))
	for depth := 0; ; {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			if depth++; depth > MaxMetadataDepth {
				t.Fatalf("accepted metadata nested %d deep", depth)
			}
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	if _, err := webhook.CanonicalOf(struct {
		Metadata json.RawMessage `json:"metadata"`
	}{m}); err != nil {
		t.Fatalf("accepted metadata %q cannot be sent in a webhook: %v", m, err)
	}
}

func FuzzMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		errs := facematch.FieldErrors{}
		m := checkMetadata("metadata", part{data: data, tooLarge: len(data) > maxTextBytes}, errs)
		checkFieldErrors(t, errs, map[string]struct{}{"metadata": {}})
		if (m == nil) == (len(errs) == 0) {
			t.Fatalf("metadata %q and errors %v", m, errs)
		}
		if m != nil {
			checkAcceptedMetadata(t, m)
		}
	})
}

// destinationFields are the fields a destination body may carry.
var destinationFields = map[string]struct{}{
	"label": {}, "url": {}, "subscribed_events": {}, "enabled": {}, "rotate_secret_key": {}, "webhook_version": {},
}

func FuzzDestination(f *testing.F) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, create bool, body []byte) {
		method, path := http.MethodPatch, "/v3/webhook/destinations/2f1c9c5e-3b7e-4d0e-9a51-2d2f6f3f9a10/"
		if create {
			method, path = http.MethodPost, "/v3/webhook/destinations/"
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var (
			in   destinationInput
			errs facematch.FieldErrors
		)
		rec, ran := validateThen(s, req, func(v *validation) {
			in, errs = parseDestination(req.Context(), s.cfg.Guard, v.body, create)
			errs = v.merge(errs)
		})
		if !ran {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("validate answered %d", rec.Code)
			}
			return
		}
		checkFieldErrors(t, errs, destinationFields)
		if len(errs) > 0 {
			return
		}
		u := in.update
		if create && (u.Label == nil || u.URL == nil || u.Enabled == nil || len(u.SubscribedEvents) == 0 || u.WebhookVersion == nil) {
			t.Fatalf("created from %q without every field: %+v", body, u)
		}
		if u.Label != nil && (strings.TrimSpace(*u.Label) == "" || utf8.RuneCountInString(*u.Label) > 255) {
			t.Fatalf("accepted label %q", *u.Label)
		}
		if u.URL != nil {
			if p, err := url.Parse(*u.URL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Hostname() == "" {
				t.Fatalf("accepted url %q", *u.URL)
			}
		}
		for _, e := range u.SubscribedEvents {
			if !slices.Contains(facematch.WebhookEvents, e) {
				t.Fatalf("accepted event %q", e)
			}
		}
		if v := u.WebhookVersion; v != nil && !slices.Contains(facematch.WebhookVersions, *v) {
			t.Fatalf("accepted webhook_version %q", *v)
		}
	})
}

// TestGeneratedSeedsAreCommitted checks that the committed gen-* seeds are what the generator
// makes today from the server's own bounds: a change to either must be followed by go generate.
func TestGeneratedSeedsAreCommitted(t *testing.T) {
	forms, err := fuzzseeds.Forms(maxParts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, f := range forms {
		want[filepath.Join("FuzzFaceMatchForm", "gen-"+f.Name)] = fuzzseeds.CorpusEntry(f.ContentType, f.Body)
	}
	for i, m := range fuzzseeds.Metadata {
		want[filepath.Join("FuzzMetadata", "gen-"+strconv.Itoa(i))] = fuzzseeds.CorpusEntry([]byte(m))
	}
	for i, d := range fuzzseeds.Destinations {
		want[filepath.Join("FuzzDestination", "gen-"+strconv.Itoa(i))] = fuzzseeds.CorpusEntry(i%2 == 0, []byte(d))
	}
	for name, entry := range want {
		got, err := os.ReadFile(filepath.Join("testdata", "fuzz", name))
		if err != nil {
			t.Fatalf("%v (run go generate ./server)", err)
		}
		if !bytes.Equal(got, entry) {
			t.Errorf("%s differs from the generator's output (run go generate ./server)", name)
		}
	}
}
