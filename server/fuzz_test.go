package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
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

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/contract"
	"github.com/facematch/facematch/imaging"
	"github.com/facematch/facematch/internal/testimg"
	"github.com/facematch/facematch/webhook"
)

// The fuzz targets of this package take a request's bytes the way the server does, through the
// validate middleware (the body limit and kin-openapi's decoding of the body against
// openapi.yaml) and then the handler's own parsing: FuzzFaceMatchForm for the multipart form of
// POST /v3/face-match/, FuzzMetadata for its metadata field alone, FuzzDestination for the JSON
// bodies of the webhook destinations. No store, matcher or network is involved: the
// destination URL guard resolves names with a fake resolver. Seeds are in testdata/fuzz
// (`go test ./server -run TestWriteFuzzSeeds -write-seeds` rewrites the generated ones).

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

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated seeds under testdata/fuzz")

// TestWriteFuzzSeeds writes the generated seed corpus (files named gen-*) of the fuzz targets.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite testdata/fuzz/*/gen-*")
	}
	write := func(target, name string, vals ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "gen-"+name), corpusEntry(vals...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"FuzzFaceMatchForm", "FuzzMetadata", "FuzzDestination"} {
		old, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "gen-*"))
		for _, p := range old {
			os.Remove(p)
		}
	}
	forms := formSeeds(t)
	for _, s := range forms {
		write("FuzzFaceMatchForm", s.name, s.contentType, s.body)
	}
	for i, m := range metadataSeeds {
		write("FuzzMetadata", strconv.Itoa(i), []byte(m))
	}
	for i, d := range destinationSeeds {
		write("FuzzDestination", strconv.Itoa(i), i%2 == 0, []byte(d))
	}
	t.Logf("wrote %d form, %d metadata and %d destination seeds", len(forms), len(metadataSeeds), len(destinationSeeds))
}

// corpusEntry encodes values in the file format of go test's fuzzing corpus.
func corpusEntry(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(x)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(x))
		default:
			fmt.Fprintf(&b, "%T(%v)\n", x, x)
		}
	}
	return []byte(b.String())
}

var metadataSeeds = []string{
	`{}`, `{"flow":"login","n":1,"f":1.5,"t":true,"z":null,"a":[1,{"b":"c"}]}`, `[1,2]`, `"text"`, `null`, `1`,
	`{"a":1e400}`, `{"a":-0}`, `{"a":12345678901234567890123}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	`{"a":1,"a":2}`, `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, `{"a":1} x`, ` {"a" : 1 } `,
	`{"é":"ü","emoji":"\u00e9\ud83d\ude00"}`, `{`, `{"a":}`, ``,
}

var destinationSeeds = []string{
	`{"label":"backend","url":"https://example.com/hooks","subscribed_events":["status.updated"],"enabled":true}`,
	`{"rotate_secret_key":true}`,
	`{"label":"x","url":"http://internal.example/"}`,
	`{"label":" ","url":"ftp://example.com/","subscribed_events":[],"enabled":"yes"}`,
	`{"label":"x","url":"https://user:pw@example.com/","subscribed_events":["status.updated","status.updated","other"]}`,
	`{"url":"http://169.254.169.254/latest/meta-data/"}`,
	`{"label":"x","url":"http://[::1]:8080/"}`,
	`{"enabled":null,"label":null}`,
	`[]`, `null`, `{}`, `{"label":1,"url":2,"subscribed_events":"status.updated"}`,
	`{"label":"` + strings.Repeat("é", 256) + `","url":"https://example.com/` + strings.Repeat("a", 2048) + `"}`,
	"{\"label\":\"\xff\",\"url\":\"http://example.com\"}",
}

type formSeed struct {
	name, contentType string
	body              []byte
}

// formPart is one part of a hand-made multipart body.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

func multipartBody(parts ...formPart) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.SetBoundary("fuzzboundary")
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, _ := w.CreatePart(h)
		pw.Write(p.data)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// formSeeds are face-match forms: valid ones with a tiny image of each format, and every kind
// of malformation the API answers 400 to.
func formSeeds(t *testing.T) []formSeed {
	img := image.NewRGBA(image.Rect(0, 0, 6, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	jpg := testimg.Encode(t, img, "jpeg")
	pngData := testimg.Encode(t, img, "png")
	images := map[string][]byte{
		"a.jpg": jpg, "a.png": pngData, "a.webp": testimg.Encode(t, img, "webp"), "a.tiff": testimg.Encode(t, img, "tiff"),
	}
	var seeds []formSeed
	add := func(name string, parts ...formPart) {
		ct, body := multipartBody(parts...)
		seeds = append(seeds, formSeed{name, ct, body})
	}
	for name, data := range images {
		add("valid-"+strings.TrimPrefix(name, "a."),
			formPart{name: "user_image", filename: name, data: data, contentType: "application/octet-stream"},
			formPart{name: "ref_image", filename: name, data: data},
			formPart{name: "face_match_score_decline_threshold", data: []byte("55.5")},
			formPart{name: "rotate_image", data: []byte("Yes")},
			formPart{name: "save_api_request", data: []byte("off")},
			formPart{name: "vendor_data", data: []byte("user-123 é")},
			formPart{name: "metadata", data: []byte(`{"flow":"login","n":[1,2.5]}`)},
			formPart{name: "unknown", data: []byte("ignored")})
	}
	user := formPart{name: "user_image", filename: "u.jpg", data: jpg}
	ref := formPart{name: "ref_image", filename: "r.png", data: pngData}
	add("minimal", user, ref)
	add("png-named-jpg", formPart{name: "user_image", filename: "u.jpg", data: pngData}, ref)
	add("jpg-named-png", user, formPart{name: "ref_image", filename: "r.png", data: jpg})
	add("no-extension", formPart{name: "user_image", filename: "u", data: jpg}, ref)
	add("empty-image", formPart{name: "user_image", filename: "u.jpg"}, ref)
	add("image-as-text", formPart{name: "user_image", data: jpg}, ref)
	add("truncated-image", formPart{name: "user_image", filename: "u.jpg", data: jpg[:len(jpg)/2]}, ref)
	add("exif-orientation-65535", formPart{name: "user_image", filename: "u.jpg", data: testimg.WithJPEGOrientation(jpg, 65535)}, ref)
	add("bomb", formPart{name: "user_image", filename: "u.png", data: testimg.PNGBomb(20000, 20000)}, ref)
	add("twice", user, user, ref)
	add("bad-fields", user, ref,
		formPart{name: "face_match_score_decline_threshold", data: []byte("NaN")},
		formPart{name: "rotate_image", data: []byte("maybe")},
		formPart{name: "vendor_data", data: []byte("\xff\xfe")},
		formPart{name: "metadata", data: []byte(`[1`)})
	add("json-part", user, ref, formPart{name: "metadata", contentType: "application/json", data: []byte(`{"a":[[[[1]]]]}`)})
	add("yaml-part", user, ref, formPart{name: "vendor_data", contentType: "application/yaml", data: []byte("a: &a [x]\nb: [*a, *a]\n")})
	add("nested-multipart", user, ref, formPart{name: "vendor_data", contentType: "multipart/form-data; boundary=x", data: []byte("--x\r\n\r\nv\r\n--x--\r\n")})
	add("no-parts")
	var many []formPart
	for range maxParts + 5 {
		many = append(many, formPart{name: "x", data: []byte("y")})
	}
	add("too-many-parts", many...)
	// Malformations a multipart.Writer would not make.
	ct, valid := multipartBody(user, ref)
	seeds = append(seeds,
		formSeed{"unterminated", ct, valid[:len(valid)-20]},
		formSeed{"wrong-boundary", "multipart/form-data; boundary=other", valid},
		formSeed{"no-boundary", "multipart/form-data", valid},
		formSeed{"json", "application/json", []byte(`{"user_image":"x"}`)},
		formSeed{"urlencoded", "application/x-www-form-urlencoded", []byte("user_image=x&ref_image=y")},
		formSeed{"no-content-type", "", valid},
		formSeed{"bad-header", ct, []byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"user_image\r\n\r\nx\r\n--fuzzboundary--\r\n")},
		formSeed{"quoted-boundary", `multipart/form-data; boundary="fuzzboundary"`, valid},
		formSeed{"lf-only", ct, bytes.ReplaceAll(valid, []byte("\r\n"), []byte("\n"))},
		formSeed{"empty", ct, nil},
	)
	return seeds
}
