package brokenproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// upstream answers every face-match call as a conforming server would for a score of 42.5
// against the threshold the request carries (or the default 30).
func upstream(t *testing.T) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") == "" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"detail": "You do not have permission to perform this action."}`)
			return
		}
		th, ok := threshold(r.Header.Get("Content-Type"), mustRead(t, r.Body))
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status, warnings := "Approved", `[]`
		if 42.5 <= th {
			status, warnings = "Declined", `[{"feature":"FACEMATCH","risk":"LOW_FACE_MATCH_SIMILARITY"}]`
		}
		io.WriteString(w, `{"request_id":"x","face_match":{"status":"`+status+`","score":42.50,"warnings":`+warnings+`},"metadata":null}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func mustRead(t *testing.T, r io.Reader) []byte {
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, h http.Handler, key string, fields ...string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/v3/face-match/", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func status(m map[string]any) (string, int) {
	fm, _ := m["face_match"].(map[string]any)
	s, _ := fm["status"].(string)
	w, _ := fm["warnings"].([]any)
	return s, len(w)
}

func TestApproveAtThreshold(t *testing.T) {
	broken := New(upstream(t), ApproveAtThreshold)
	clean := New(upstream(t))
	for _, c := range []struct {
		name, threshold string
		proxy           http.Handler
		want            string
		warnings        int
	}{
		{"equal, broken", "42.5", broken, "Approved", 0},
		{"equal written otherwise, broken", "42.50", broken, "Approved", 0},
		{"equal, clean", "42.5", clean, "Declined", 1},
		{"above, broken", "42.51", broken, "Declined", 1},
		{"below, broken", "42.49", broken, "Approved", 0},
		{"default threshold, broken", "", broken, "Approved", 0},
	} {
		code, m := post(t, c.proxy, "fm_live_x", "face_match_score_decline_threshold", c.threshold)
		if s, w := status(m); code != 200 || s != c.want || w != c.warnings {
			t.Errorf("%s: %d %s with %d warnings, want 200 %s with %d", c.name, code, s, w, c.want, c.warnings)
		}
	}
	// FM-VAL-5: the last value counts.
	if _, m := post(t, broken, "k", "face_match_score_decline_threshold", "10", "face_match_score_decline_threshold", "42.5"); func() string { s, _ := status(m); return s }() != "Approved" {
		t.Errorf("the last threshold sent did not decide: %v", m)
	}
}

func TestMissingKey401(t *testing.T) {
	broken := New(upstream(t), MissingKey401)
	if code, _ := post(t, broken, ""); code != http.StatusUnauthorized {
		t.Errorf("no key through the broken proxy: %d, want 401", code)
	}
	if code, _ := post(t, New(upstream(t)), ""); code != http.StatusForbidden {
		t.Errorf("no key through the clean proxy: %d, want the server's 403", code)
	}
	if code, _ := post(t, broken, "fm_live_x"); code != http.StatusOK {
		t.Errorf("a key through the broken proxy: %d, want 200", code)
	}
}

func TestParseFaults(t *testing.T) {
	fs, err := ParseFaults(" missing-key-401 ,approve-at-threshold,")
	if err != nil || len(fs) != 2 {
		t.Fatalf("ParseFaults: %v %v", fs, err)
	}
	if _, err := ParseFaults("no-such-fault"); err == nil {
		t.Fatal("an unknown fault was accepted")
	}
}
