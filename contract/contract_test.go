package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/internal/shared"
)

// loadDoc loads the embedded document, failing the test when it does not parse or validate.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return doc
}

// operation is one operation of the document, callbacks included, with where it was found.
type operation struct {
	where  string
	path   string
	method string
	op     *openapi3.Operation
}

// allOperations lists every operation of the document, including those of callbacks.
func allOperations(doc *openapi3.T) []operation {
	var ops []operation
	var walk func(prefix string, paths *openapi3.Paths)
	walk = func(prefix string, paths *openapi3.Paths) {
		for path, item := range paths.Map() {
			for method, op := range item.Operations() {
				ops = append(ops, operation{where: prefix + method + " " + path, path: path, method: method, op: op})
				for name, cb := range op.Callbacks {
					if cb.Value == nil {
						continue
					}
					cbPaths := openapi3.NewPaths()
					for expr, cbItem := range cb.Value.Map() {
						cbPaths.Set(expr, cbItem)
					}
					walk(prefix+method+" "+path+" callback "+name+": ", cbPaths)
				}
			}
		}
	}
	walk("", doc.Paths)
	return ops
}

func v3Operations(doc *openapi3.T) []operation {
	var ops []operation
	for _, o := range allOperations(doc) {
		if strings.HasPrefix(o.path, "/v3/") {
			ops = append(ops, o)
		}
	}
	return ops
}

func TestOpenAPIDocumentLoadsAndValidates(t *testing.T) {
	doc := loadDoc(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "http://127.0.0.1:8080" {
		t.Errorf("first server is not http://127.0.0.1:8080")
	}
	scheme := doc.Components.SecuritySchemes["ApiKeyAuth"]
	if scheme == nil || scheme.Value.Type != "apiKey" || scheme.Value.In != "header" || scheme.Value.Name != "x-api-key" {
		t.Errorf("ApiKeyAuth is not an apiKey in header x-api-key: %+v", scheme)
	}
	if n := len(v3Operations(doc)); n != 8 {
		t.Errorf("%d /v3/ operations, want 8", n)
	}
}

// [FM-AUTH-1]: the API never answers 401, on any route.
func TestOpenAPINeverDeclares401(t *testing.T) {
	doc := loadDoc(t)
	for _, o := range allOperations(doc) {
		if o.op.Responses.Value("401") != nil {
			t.Errorf("%s declares a 401", o.where)
		}
	}
	if _, ok := doc.Components.Responses["Unauthorized"]; ok {
		t.Errorf("components/responses declares Unauthorized")
	}
}

// [FM-AUTH-1] [FM-RL-1] [FM-RL-2]: every /v3/ operation needs the key, answers 403 and 429, and
// every answer to a valid key carries the X-RateLimit-* headers.
func TestOpenAPIV3OperationsRequireKeyAndDeclareErrors(t *testing.T) {
	doc := loadDoc(t)
	rateLimit := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	for _, o := range v3Operations(doc) {
		if o.op.Security == nil || len(*o.op.Security) != 1 {
			t.Errorf("%s: want exactly one security requirement", o.where)
		} else if _, ok := (*o.op.Security)[0]["ApiKeyAuth"]; !ok {
			t.Errorf("%s: security does not require ApiKeyAuth", o.where)
		}
		for _, code := range []string{"403", "429", "500"} {
			if o.op.Responses.Value(code) == nil {
				t.Errorf("%s: no %s response", o.where, code)
			}
		}
		if r := o.op.Responses.Value("429"); r != nil {
			if h := r.Value.Headers["Retry-After"]; h == nil || !h.Value.Required {
				t.Errorf("%s: 429 without a required Retry-After", o.where)
			}
		}
		for code, r := range o.op.Responses.Map() {
			for _, name := range rateLimit {
				h := r.Value.Headers[name]
				switch {
				case code == "403" && r.Ref == "#/components/responses/PermissionDenied":
					// No valid key: no rate-limit headers.
					if h != nil {
						t.Errorf("%s %s: PermissionDenied declares %s", o.where, code, name)
					}
				case code == "403" || code == "500":
					// The key may or may not have been valid.
					if h == nil || h.Value.Required {
						t.Errorf("%s %s: want an optional %s header", o.where, code, name)
					}
				default:
					if h == nil || !h.Value.Required {
						t.Errorf("%s %s: want a required %s header", o.where, code, name)
					}
				}
			}
		}
	}
	for _, o := range allOperations(doc) {
		if strings.HasPrefix(o.path, "/v3/") || strings.Contains(o.where, "callback") {
			continue
		}
		if o.op.Security == nil || len(*o.op.Security) != 0 {
			t.Errorf("%s: want an explicit empty security (no key outside /v3/)", o.where)
		}
	}
}

// [FM-SBX-1]: the sandbox answers the SandboxFaceMatch example, which must be a valid 200.
func TestOpenAPISandboxExampleIsAFaceMatchResponse(t *testing.T) {
	doc := loadDoc(t)
	ex := doc.Components.Examples["SandboxFaceMatch"]
	if ex == nil || ex.Value == nil {
		t.Fatal("no components/examples/SandboxFaceMatch")
	}
	schema := doc.Components.Schemas["FaceMatchResponse"]
	if schema == nil {
		t.Fatal("no components/schemas/FaceMatchResponse")
	}
	// Round-trip through JSON so the value has the shapes a decoded response body has.
	raw, err := json.Marshal(ex.Value.Value)
	if err != nil {
		t.Fatal(err)
	}
	var value any
	if err := json.Unmarshal(raw, &value); err != nil {
		t.Fatal(err)
	}
	if err := schema.Value.VisitJSON(value, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		t.Fatalf("SandboxFaceMatch does not match FaceMatchResponse: %v", err)
	}
	m := value.(map[string]any)
	fm := m["face_match"].(map[string]any)
	if fm["status"] != "Approved" || fm["score"] != 87.35 || m["vendor_data"] != "user-123" {
		t.Errorf("SandboxFaceMatch is not the contract's Response 200 example: %s", raw)
	}

	// The example is reachable from the 200 of POST /v3/face-match/.
	op := doc.Paths.Value("/v3/face-match/").Post
	media := op.Responses.Value("200").Value.Content.Get("application/json")
	if ref := media.Examples["approved"]; ref == nil || ref.Ref != "#/components/examples/SandboxFaceMatch" {
		t.Errorf("the 200 of faceMatch does not name SandboxFaceMatch as its approved example")
	}

	// A mutated copy must fail: the schema is strict.
	var bad map[string]any
	_ = json.Unmarshal(raw, &bad)
	bad["extra"] = true
	if err := schema.Value.VisitJSON(bad, openapi3.VisitAsResponse()); err == nil {
		t.Errorf("FaceMatchResponse accepts an unknown property")
	}
	_ = json.Unmarshal(raw, &bad)
	delete(bad, "extra")
	bad["created_at"] = "2026-06-12T01:04:42Z"
	if err := schema.Value.VisitJSON(bad, openapi3.VisitAsResponse()); err == nil {
		t.Errorf("FaceMatchResponse accepts created_at without microseconds and +00:00")
	}
}

// [FM-VAL-1]: POST /v3/face-match/ accepts only multipart/form-data.
func TestOpenAPIFaceMatchIsMultipartOnly(t *testing.T) {
	doc := loadDoc(t)
	op := doc.Paths.Value("/v3/face-match/").Post
	if op == nil || op.OperationID != "faceMatch" {
		t.Fatal("no POST /v3/face-match/ with operationId faceMatch")
	}
	body := op.RequestBody.Value
	if !body.Required {
		t.Errorf("request body not required")
	}
	var types []string
	for ct := range body.Content {
		types = append(types, ct)
	}
	if !slices.Equal(types, []string{"multipart/form-data"}) {
		t.Errorf("request content types = %v, want only multipart/form-data", types)
	}
	schema := body.Content["multipart/form-data"].Schema.Value
	if !slices.Contains(schema.Required, "user_image") || !slices.Contains(schema.Required, "ref_image") {
		t.Errorf("user_image and ref_image are not both required: %v", schema.Required)
	}
	for _, name := range []string{"user_image", "ref_image"} {
		p := schema.Properties[name].Value
		if !p.Type.Is("string") || p.Format != "binary" {
			t.Errorf("%s is not a binary string", name)
		}
	}
	// Unknown parts are ignored [FM-VAL-3]: kin-openapi's multipart decoder rejects them unless
	// additionalProperties is explicitly true.
	if has := schema.AdditionalProperties.Has; has == nil || !*has {
		t.Errorf("FaceMatchRequest must declare additionalProperties: true")
	}
}

// The document encodes every rule of the contract: each rule id appears in it.
func TestOpenAPIMentionsEveryRuleID(t *testing.T) {
	path := shared.Path(t, "spec", "face-match.md")
	spec, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the contract (set FACEMATCH_SHARED to the shared directory): %v", err)
	}
	ids := regexp.MustCompile(`\[(FM-[A-Z]+-[0-9]+)\]`).FindAllStringSubmatch(string(spec), -1)
	if len(ids) == 0 {
		t.Fatalf("no rule ids found in %s", path)
	}
	seen := map[string]bool{}
	for _, m := range ids {
		id := m[1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if !bytes.Contains(facematch.OpenAPISpec, []byte("["+id+"]")) {
			t.Errorf("openapi.yaml does not mention [%s]", id)
		}
	}
}

// faceMatchForm builds a multipart body from fields and files (name -> file name, content).
func faceMatchForm(t *testing.T, fields [][2]string, files [][3]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		part, err := w.CreateFormFile(f[0], f[1])
		if err != nil {
			t.Fatal(err)
		}
		part.Write([]byte(f[2]))
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, w.FormDataContentType()
}

// schemaErrorFields returns the body fields kin-openapi's schema errors point at.
func schemaErrorFields(err error) []string {
	var fields []string
	var walk func(error)
	walk = func(err error) {
		var multi openapi3.MultiError
		if errors.As(err, &multi) {
			for _, e := range multi {
				walk(e)
			}
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			ptr := se.JSONPointer()
			if len(ptr) > 0 {
				fields = append(fields, ptr[0])
			} else {
				fields = append(fields, "non_field_errors")
			}
			return
		}
		var pe *openapi3filter.ParseError
		if errors.As(err, &pe) {
			if path := pe.Path(); len(path) > 0 {
				if name, ok := path[0].(string); ok {
					fields = append(fields, name)
					return
				}
			}
		}
		fields = append(fields, "non_field_errors")
	}
	walk(err)
	slices.Sort(fields)
	return slices.Compact(fields)
}

// kin-openapi validates the multipart form of POST /v3/face-match/ as the server will: the image
// parts decode as binary strings, and bad fields are reported with the field they concern.
func TestOpenAPIFaceMatchRequestValidation(t *testing.T) {
	doc := loadDoc(t)
	// The server listens wherever it is told: match routes on any host.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
	images := [][3]string{{"user_image", "selfie.JPG", png}, {"ref_image", "id.png", png}}
	tests := []struct {
		name        string
		fields      [][2]string
		files       [][3]string
		contentType string
		wantFields  []string // nil: valid
	}{
		{name: "minimal", files: images},
		{name: "all fields", files: images, fields: [][2]string{
			{"face_match_score_decline_threshold", "55.5"}, {"rotate_image", "TRUE"},
			{"save_api_request", "f"}, {"vendor_data", "user-123"}, {"metadata", `{"flow":"login"}`},
		}},
		{name: "unknown field ignored", files: images, fields: [][2]string{{"colour", "blue"}}},
		// The booleans are typed as booleans, so that generated SDKs expose them as such; a generic
		// validator reads the words strconv.ParseBool knows, and the server reads all of
		// FM-VAL-2's words (yes/no/on/off too) before its schema check (server tests).
		{name: "booleans", files: images, fields: [][2]string{{"rotate_image", "True"}, {"save_api_request", "0"}}},
		{name: "threshold bounds", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "0"}}},
		{name: "threshold 101", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "101"}},
			wantFields: []string{"face_match_score_decline_threshold"}},
		{name: "threshold negative", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "-0.5"}},
			wantFields: []string{"face_match_score_decline_threshold"}},
		{name: "threshold NaN", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "NaN"}},
			wantFields: []string{"face_match_score_decline_threshold"}},
		{name: "threshold Inf", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "1e999"}},
			wantFields: []string{"face_match_score_decline_threshold"}},
		{name: "threshold not a number", files: images, fields: [][2]string{{"face_match_score_decline_threshold", "abc"}},
			wantFields: []string{"face_match_score_decline_threshold"}},
		{name: "rotate_image maybe", files: images, fields: [][2]string{{"rotate_image", "maybe"}},
			wantFields: []string{"rotate_image"}},
		{name: "missing user_image", files: images[1:], wantFields: []string{"user_image"}},
		{name: "vendor_data too long", files: images, fields: [][2]string{{"vendor_data", strings.Repeat("x", 1025)}},
			wantFields: []string{"vendor_data"}},
		{name: "several bad fields at once", files: images[1:], fields: [][2]string{
			{"face_match_score_decline_threshold", "101"}, {"vendor_data", strings.Repeat("x", 1025)},
		}, wantFields: []string{"face_match_score_decline_threshold", "user_image", "vendor_data"}},
		{name: "not multipart", contentType: "application/json", wantFields: []string{"non_field_errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := faceMatchForm(t, tt.fields, tt.files)
			if tt.contentType != "" {
				body, ct = bytes.NewBufferString(`{"user_image": "x"}`), tt.contentType
			}
			req := httptest.NewRequest(http.MethodPost, "http://localhost:9999/v3/face-match/", body)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("x-api-key", "test")
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("FindRoute: %v", err)
			}
			input := &openapi3filter.RequestValidationInput{
				Request:    req,
				PathParams: params,
				Route:      route,
				Options: &openapi3filter.Options{
					MultiError:         true,
					AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				},
			}
			err = openapi3filter.ValidateRequest(context.Background(), input)
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("valid request rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid request accepted")
			}
			if got := schemaErrorFields(err); !slices.Equal(got, tt.wantFields) {
				t.Errorf("error fields = %v, want %v; error: %v", got, tt.wantFields, err)
			}
		})
	}
}

// validateResponse checks one canned response of an operation against the document.
func validateResponse(t *testing.T, doc *openapi3.T, method, path string, status int, header http.Header, body string) error {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, "http://localhost:9999"+path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("FindRoute %s %s: %v", method, path, err)
	}
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	// Every answer carries X-Request-Id; a test that wants it missing sets it empty.
	if v, ok := header["X-Request-Id"]; !ok {
		header.Set("X-Request-Id", "0b6f1f0e-9c55-4a8e-8f3b-7f2f6b1d2c44")
	} else if len(v) == 1 && v[0] == "" {
		header.Del("X-Request-Id")
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(strings.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// Responses as the server sends them validate; malformed ones do not ([FM-AUTH-1], [FM-BILL-1],
// [FM-RL-1], [FM-RL-2], [FM-SES-3]).
func TestOpenAPIResponseValidation(t *testing.T) {
	doc := loadDoc(t)
	doc.Servers = nil
	sandbox, err := json.Marshal(doc.Components.Examples["SandboxFaceMatch"].Value.Value)
	if err != nil {
		t.Fatal(err)
	}
	limits := func(extra ...string) http.Header {
		h := http.Header{}
		h.Set("X-RateLimit-Limit", "300")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", "1781226342")
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	const (
		faceMatch = "/v3/face-match/"
		decision  = "/v3/session/3f1c9c5e-3b7e-4d0e-9a51-2d2f6f3f9a10/decision/"
	)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		header http.Header
		body   string
		valid  bool
	}{
		{"sandbox 200", "POST", faceMatch, 200, limits(), string(sandbox), true},
		{"200 without rate-limit headers", "POST", faceMatch, 200, nil, string(sandbox), false},
		{"200 with a 401-style body", "POST", faceMatch, 200, limits(), `{"detail": "x"}`, false},
		{"403 permission denied, no headers", "POST", faceMatch, 403, nil,
			`{"detail": "You do not have permission to perform this action."}`, true},
		{"403 not enough credits", "POST", faceMatch, 403, limits(),
			`{"detail": "You do not have enough credits to perform this action.", "error": "not-enough-credits"}`, true},
		{"403 other text", "POST", faceMatch, 403, nil, `{"detail": "Forbidden."}`, false},
		{"400 field-keyed", "POST", faceMatch, 400, limits(),
			`{"user_image": ["This field is required."], "non_field_errors": ["x"]}`, true},
		{"400 not a list", "POST", faceMatch, 400, limits(), `{"user_image": "This field is required."}`, false},
		{"429 throttled", "POST", faceMatch, 429, limits("Retry-After", "12"),
			`{"detail": "Request was throttled. Expected available in 12 seconds."}`, true},
		{"429 without Retry-After", "POST", faceMatch, 429, limits(),
			`{"detail": "Request was throttled. Expected available in 12 seconds."}`, false},
		{"429 singular second", "POST", faceMatch, 429, limits("Retry-After", "1"),
			`{"detail": "Request was throttled. Expected available in 1 second."}`, false},
		{"500 generic", "POST", faceMatch, 500, nil, `{"detail": "A server error occurred."}`, true},
		{"401 undeclared", "POST", faceMatch, 401, nil, `{"detail": "x"}`, false},
		{"decision 404", "GET", decision, 404, limits(), `{"detail": "Not found."}`, true},
		{"404 without X-Request-Id (optional for other servers)", "GET", decision, 404, limits("X-Request-Id", ""), `{"detail": "Not found."}`, true},
		{"405 with the key's headers", "POST", faceMatch, 405, limits(), `{"detail": "Method \"PUT\" not allowed."}`, true},
		{"405 without the key's headers", "POST", faceMatch, 405, nil, `{"detail": "Method \"PUT\" not allowed."}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateResponse(t, doc, tt.method, tt.path, tt.status, tt.header, tt.body)
			if tt.valid && err != nil {
				t.Errorf("valid response rejected: %v", err)
			}
			if !tt.valid && err == nil {
				t.Errorf("invalid response accepted")
			}
		})
	}
}

// [FM-RESP-4] The warnings of openapi.yaml's examples carry the texts the server writes, from
// their one source in the domain package.
func TestOpenAPIWarningTextsAreTheServers(t *testing.T) {
	doc := loadDoc(t)
	want := map[string][2]string{
		facematch.RiskLowSimilarity:    {facematch.LowSimilarityShort, facematch.LowSimilarityLong},
		facematch.RiskNoReferenceImage: {facematch.NoReferenceImageShort, facematch.NoReferenceImageLong},
	}
	seen := map[string]bool{}
	for name, ex := range doc.Components.Examples {
		raw, err := json.Marshal(ex.Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			FaceMatch *facematch.FaceMatch `json:"face_match"`
		}
		if json.Unmarshal(raw, &body) != nil || body.FaceMatch == nil {
			continue
		}
		for _, w := range body.FaceMatch.Warnings {
			seen[w.Risk] = true
			if got := [2]string{w.ShortDescription, w.LongDescription}; got != want[w.Risk] {
				t.Errorf("example %s, %s: %q, the server writes %q", name, w.Risk, got, want[w.Risk])
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("examples show the risks %v, want both", seen)
	}
}
