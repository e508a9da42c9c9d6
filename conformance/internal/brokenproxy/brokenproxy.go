// Package brokenproxy is the conformance self-test's deliberately non-conforming server: a
// reverse proxy in front of a real, conforming facematch server that injects faults into the
// answers, so that the self-test can check the suite catches them. The faults live here, in the
// suite's module, and never in the server's production code.
package brokenproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// Fault is one way the proxy breaks the contract.
type Fault string

// The faults the proxy can inject.
const (
	// MissingKey401 answers 401 to a /v3/ request without x-api-key (FM-AUTH-1 requires 403).
	MissingKey401 Fault = "missing-key-401"
	// ApproveAtThreshold turns a face-match answer whose score equals the request's threshold
	// from Declined into Approved with no warning (FM-MATCH-2 declines it).
	ApproveAtThreshold Fault = "approve-at-threshold"
)

// AbruptShutdown makes the stand-in binary (facematch-broken) kill the real server and exit at
// once on SIGTERM, dropping the requests in flight (FM-OPS-1 finishes them). The handler itself
// has no part in it.
const AbruptShutdown Fault = "abrupt-shutdown"

// Faults lists every fault, for flags and reports.
var Faults = []Fault{MissingKey401, ApproveAtThreshold, AbruptShutdown}

// ParseFaults reads a comma-separated list of fault names; "none" is the clean proxy.
func ParseFaults(s string) ([]Fault, error) {
	var out []Fault
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		known := false
		for _, f := range Faults {
			if string(f) == name {
				out, known = append(out, f), true
			}
		}
		if !known {
			return nil, fmt.Errorf("unknown fault %q (known: %v)", name, Faults)
		}
	}
	return out, nil
}

// defaultThreshold is the contract's default face_match_score_decline_threshold (section 3).
const defaultThreshold = 30.0

// maxBody bounds what the proxy reads of a request to find its threshold: two 5 MiB images and
// the fields.
const maxBody = 12 << 20

// New is a handler that forwards every request to upstream and injects faults.
func New(upstream *url.URL, faults ...Fault) http.Handler {
	on := map[Fault]bool{}
	for _, f := range faults {
		on[f] = true
	}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.ModifyResponse = func(res *http.Response) error {
		if on[ApproveAtThreshold] {
			return approveAtThreshold(res)
		}
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if on[MissingKey401] && strings.HasPrefix(r.URL.Path, "/v3/") && len(r.Header.Values("x-api-key")) == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"detail": "Authentication credentials were not provided."}`)
			return
		}
		if on[ApproveAtThreshold] && r.Method == http.MethodPost && r.URL.Path == "/v3/face-match/" {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			r.Body.Close()
			if err != nil {
				http.Error(w, "broken proxy: reading the request: "+err.Error(), http.StatusBadGateway)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if t, ok := threshold(r.Header.Get("Content-Type"), body); ok {
				r = r.WithContext(withThreshold(r.Context(), t))
			}
		}
		rp.ServeHTTP(w, r)
	})
}

// threshold reads face_match_score_decline_threshold from a multipart body: its last value, the
// default when absent or blank (FM-VAL-5); ok is false when it is not a number.
func threshold(contentType string, body []byte) (float64, bool) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return 0, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	value := ""
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() == "face_match_score_decline_threshold" && p.FileName() == "" {
			b, _ := io.ReadAll(p)
			value = strings.TrimSpace(string(b))
		}
	}
	if value == "" {
		return defaultThreshold, true
	}
	t, err := strconv.ParseFloat(value, 64)
	return t, err == nil
}

// approveAtThreshold rewrites a 200 face-match answer whose score equals the request's threshold.
func approveAtThreshold(res *http.Response) error {
	t, ok := thresholdOf(res.Request.Context())
	if !ok || res.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil
	}
	fm, _ := doc["face_match"].(map[string]any)
	score, _ := fm["score"].(json.Number)
	s, err := score.Float64()
	if fm == nil || err != nil || s != t {
		return nil
	}
	fm["status"], fm["warnings"] = "Approved", []any{}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}
