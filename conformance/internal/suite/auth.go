package suite

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
	"github.com/facematch/facematch/conformance/internal/target"
)

// v3Routes are requests to every /v3/ operation (and to paths and methods that are none), each
// well-formed apart from its key.
func v3Routes() []Call {
	id := uuid.NewString()
	form := []report.Part{field("face_match_score_decline_threshold", "50")}
	return []Call{
		{Method: http.MethodPost, Path: "/v3/face-match/", Parts: form},
		{Method: http.MethodGet, Path: "/v3/session/" + id + "/decision/"},
		{Method: http.MethodDelete, Path: "/v3/session/" + id + "/delete/"},
		{Method: http.MethodGet, Path: "/v3/webhook/destinations/"},
		{Method: http.MethodPost, Path: "/v3/webhook/destinations/", JSON: map[string]any{"label": "x", "url": "https://8.8.8.8/hook"}},
		{Method: http.MethodGet, Path: "/v3/webhook/destinations/" + id + "/"},
		{Method: http.MethodPatch, Path: "/v3/webhook/destinations/" + id + "/", JSON: map[string]any{"enabled": false}},
		{Method: http.MethodDelete, Path: "/v3/webhook/destinations/" + id + "/"},
		{Method: http.MethodGet, Path: "/v3/no-such-route/"},
		{Method: http.MethodPut, Path: "/v3/face-match/"},
	}
}

var _ = Describe("Keys", Label(areaAuth), func() {
	It("answers 403 with the exact body, never 401, to a request without x-api-key on every /v3/ route", Label("FM-AUTH-1"), func() {
		for _, c := range v3Routes() {
			r := do(c)
			Expect(r.Status).To(Equal(http.StatusForbidden), "%s %s without a key", c.Method, c.Path)
			expectBody(r, permissionDenied)
		}
	})

	It("answers 403 with the exact body to unknown, malformed and wrong-secret keys on every /v3/ route", Label("FM-AUTH-1", "FM-AUTH-2"), func() {
		k := live().Value
		prefix, secret := k[:strings.LastIndexByte(k, '_')+1], k[strings.LastIndexByte(k, '_')+1:]
		flipped := []byte(secret)
		flipped[len(flipped)-1] = map[bool]byte{true: '1', false: '0'}[flipped[len(flipped)-1] == '0']
		keys := map[string]string{
			"unknown":             "fm_live_0123456789abcdef_" + strings.Repeat("ab", 32),
			"wrong last char":     prefix + string(flipped),
			"malformed":           "hello",
			"truncated":           k[:len(k)-1],
			"extended":            k + "0",
			"upper-cased":         strings.ToUpper(k),
			"other mode's prefix": otherModePrefix(k),
			"Bearer-prefixed":     "Bearer " + k,
		}
		for name, key := range keys {
			for _, c := range v3Routes() {
				c.RawKey = strptr(key)
				r := do(c)
				Expect(r.Status).To(Equal(http.StatusForbidden), "%s key, %s %s", name, c.Method, c.Path)
				expectBody(r, permissionDenied)
			}
		}
	})

	It("answers 403 with the exact body to a revoked key", Label("FM-AUTH-1"), func() {
		k := needKey(env.Revoked, "a revoked key")
		for _, c := range v3Routes() {
			c.Key = k
			r := do(c)
			Expect(r.Status).To(Equal(http.StatusForbidden), "revoked key, %s %s", c.Method, c.Path)
			expectBody(r, permissionDenied)
		}
	})

	It("keeps keys only as hashes: no key and no secret in the server's data or answers", Label("FM-AUTH-2"), func() {
		k := live()
		r := faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "vendor_data", "auth-2")
		fm := matchOf(r)
		d := decision(k, fm.RequestID)
		Expect(d.Status).To(Equal(http.StatusOK))
		secret := k.Value[strings.LastIndexByte(k.Value, '_')+1:]
		for _, b := range [][]byte{r.Body, d.Body, []byte(strings.Join(headerValues(r.Header), "\n"))} {
			Expect(bytes.Contains(b, []byte(secret))).To(BeFalse(), "an answer shows the key's secret")
		}
		files, err := env.Target.Main().DataFiles(context.Background())
		if errors.Is(err, target.ErrUnsupported) {
			notApplicable("reads the keys the server stores: " + err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty(), "the server keeps no file")
		for name, data := range files {
			Expect(bytes.Contains(data, []byte(secret))).To(BeFalse(), "%s holds the secret of a key in clear", name)
			Expect(bytes.Contains(data, []byte(k.Value))).To(BeFalse(), "%s holds a whole key", name)
		}
	})

	It("hides another application's session: its decision and its deletion answer 404, and it stays", Label("FM-AUTH-3", "FM-SES-3"), func() {
		mine, other := live(), otherApp()
		fm := matchOf(faceMatch(mine, photo(fixtures.PersonA1), photo(fixtures.PersonB)))
		Expect(decision(mine, fm.RequestID).Status).To(Equal(http.StatusOK))
		for _, r := range []Resp{decision(other, fm.RequestID), deleteSession(other, fm.RequestID)} {
			Expect(r.Status).To(Equal(http.StatusNotFound))
			expectBody(r, notFound)
			Expect(string(r.Body)).NotTo(ContainSubstring(fm.RequestID))
		}
		Expect(decision(mine, fm.RequestID).Status).To(Equal(http.StatusOK), "another application's delete removed the session")
	})

	It("hides another application's webhook destinations: get, update and delete answer 404, the list leaves them out", Label("FM-AUTH-3", "FM-WH-1"), func() {
		mine, other := live(), otherApp()
		d := createDestination(mine, map[string]any{"label": "auth-3", "url": destinationURL(), "enabled": false})
		path := "/v3/webhook/destinations/" + d.UUID + "/"
		for _, c := range []Call{
			{Method: http.MethodGet, Path: path, Key: other},
			{Method: http.MethodPatch, Path: path, Key: other, JSON: map[string]any{"label": "taken"}},
			{Method: http.MethodDelete, Path: path, Key: other},
		} {
			r := do(c)
			Expect(r.Status).To(Equal(http.StatusNotFound), "%s %s with another application's key", c.Method, c.Path)
			expectBody(r, notFound)
		}
		Expect(listDestinations(other)).NotTo(ContainElement(HaveField("UUID", d.UUID)))
		got := getDestination(mine, d.UUID)
		Expect(got.Label).To(Equal("auth-3"), "another application's update changed the destination")
	})
})

// otherModePrefix swaps a key's fm_live_ and fm_sandbox_ prefixes.
func otherModePrefix(k string) string {
	if rest, ok := strings.CutPrefix(k, "fm_live_"); ok {
		return "fm_sandbox_" + rest
	}
	return "fm_live_" + strings.TrimPrefix(k, "fm_sandbox_")
}

// headerValues flattens headers, to search them.
func headerValues(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}
