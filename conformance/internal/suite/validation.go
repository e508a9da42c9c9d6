package suite

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
)

const (
	thresholdField = "face_match_score_decline_threshold"
	required       = "This field is required."
	notBoolean     = "Must be a valid boolean."
)

// withImages is the two images of a valid call, then parts.
func withImages(parts ...report.Part) []report.Part {
	return append([]report.Part{file("user_image", photo(fixtures.PersonA1)), file("ref_image", photo(fixtures.PersonA2))}, parts...)
}

// malformed are requests each invalid in one way, for FM-VAL-4.
func malformed() map[string][]report.Part {
	a1 := photo(fixtures.PersonA1)
	return map[string][]report.Part{
		"no images":            {},
		"threshold 101":        withImages(field(thresholdField, "101")),
		"threshold -1":         withImages(field(thresholdField, "-1")),
		"threshold text":       withImages(field(thresholdField, "high")),
		"rotate_image maybe":   withImages(field("rotate_image", "maybe")),
		"save_api_request 2":   withImages(field("save_api_request", "2")),
		"metadata array":       withImages(field("metadata", "[1, 2]")),
		"metadata not JSON":    withImages(field("metadata", "{flow: login}")),
		"vendor_data too long": withImages(field("vendor_data", strings.Repeat("v", 1025))),
		"gif extension":        {file("user_image", fixtures.File{Name: "a.gif", Data: a1.Data}), file("ref_image", a1)},
		"not an image":         {file("user_image", fixtures.File{Name: "a.jpg", Data: []byte("text")}), file("ref_image", a1)},
	}
}

var _ = Describe("Validation", Label(areaValidation), func() {
	It("reports every invalid field at once, each with its list of messages", Label("FM-VAL-1"), func() {
		r := postForm(live(), field(thresholdField, "101"), field("rotate_image", "maybe"), field("metadata", "[]"), field("vendor_data", strings.Repeat("x", 1025)))
		m := expectFieldError(r, "user_image", "ref_image", thresholdField, "rotate_image", "metadata", "vendor_data")
		Expect(m["user_image"]).To(Equal([]any{required}))
		Expect(m["ref_image"]).To(Equal([]any{required}))
		Expect(m[thresholdField]).To(Equal([]any{"Ensure this value is less than or equal to 100."}))
		Expect(m["rotate_image"]).To(Equal([]any{notBoolean}))
	})

	It("answers 400 under non_field_errors to a body that is not multipart/form-data", Label("FM-VAL-1"), func() {
		k := live()
		for _, c := range []Call{
			{Body: []byte(`{"user_image": "a.jpg", "ref_image": "b.jpg"}`), CT: "application/json"},
			{Body: []byte("user_image=a.jpg&ref_image=b.jpg"), CT: "application/x-www-form-urlencoded"},
			{Body: []byte("hello"), CT: "text/plain"},
			{Body: []byte("--x\r\nbroken"), CT: "multipart/form-data; boundary=x"},
			{Body: []byte{}, CT: ""},
		} {
			c.Method, c.Path, c.Key = http.MethodPost, "/v3/face-match/", k
			expectFieldError(do(c), "non_field_errors")
		}
	})

	It("accepts true, false, 1, 0, yes, no, on and off in any case for booleans", Label("FM-VAL-2"), func() {
		sbx := sandbox()
		for _, v := range []string{"true", "FALSE", "1", "0", "Yes", "no", "ON", "off", "tRuE", "oFf", "YES", "False"} {
			for _, f := range []string{"rotate_image", "save_api_request"} {
				r := postForm(sbx, withImages(field(f, v))...)
				Expect(r.Status).To(Equal(http.StatusOK), "%s=%s: %s", f, v, r.Body)
			}
		}
		fm := matchOf(postForm(live(), withImages(field("rotate_image", "No"), field("save_api_request", "OFF"))...))
		Expect(decision(live(), fm.RequestID).Status).To(Equal(http.StatusNotFound), "save_api_request=OFF saved the call")
	})

	It("refuses any other boolean with \"Must be a valid boolean.\"", Label("FM-VAL-2"), func() {
		k := live()
		for _, v := range []string{"maybe", "2", "tr", "yess", "true ", "-1", "null", "10"} {
			for _, f := range []string{"rotate_image", "save_api_request"} {
				m := expectFieldError(postForm(k, withImages(field(f, v))...), f)
				Expect(m[f]).To(Equal([]any{notBoolean}), "%s=%q", f, v)
			}
		}
	})

	It("accepts thresholds from 0 to 100 with decimals and refuses anything else", Label("FM-VAL-2"), func() {
		sbx := sandbox()
		for _, v := range []string{"0", "100", "55.5", "0.01", "99.999", "30", "7"} {
			r := postForm(sbx, withImages(field(thresholdField, v))...)
			Expect(r.Status).To(Equal(http.StatusOK), "threshold %s: %s", v, r.Body)
		}
		k := live()
		for _, v := range []string{"-0.01", "100.01", "abc", "NaN", "nan", "Infinity", "-Infinity", "inf", "1,5", "50%"} {
			expectFieldError(postForm(k, withImages(field(thresholdField, v))...), thresholdField)
		}
		m := expectFieldError(postForm(k, withImages(field(thresholdField, "-1"))...), thresholdField)
		Expect(m[thresholdField]).To(Equal([]any{"Ensure this value is greater than or equal to 0."}))
	})

	It("refuses metadata that is not a JSON object", Label("FM-VAL-3"), func() {
		k := live()
		for _, v := range []string{"{", "[1, 2]", `"flow"`, "42", "null", "true", "{flow: 1}"} {
			expectFieldError(postForm(k, withImages(field("metadata", v))...), "metadata")
		}
		sbx := sandbox()
		for _, v := range []string{"{}", `{"a": {"b": [1, null, "x"]}}`} {
			r := postForm(sbx, withImages(field("metadata", v))...)
			Expect(r.Status).To(Equal(http.StatusOK), "metadata %s: %s", v, r.Body)
		}
	})

	It("ignores unknown fields", Label("FM-VAL-3"), func() {
		fm := matchOf(postForm(live(), withImages(field("workflow_id", "x"), field("callback", "https://example.com"), field("user_image_url", "y"), field("unknown", "z"))...))
		expectApproved(fm, "a valid call with unknown fields")
	})

	It("limits vendor_data to 1024 characters and metadata to 16 KiB", Label("FM-VAL-1", "FM-RESP-1"), func() {
		sbx := sandbox()
		long := strings.Repeat("é", 1024) // 1024 characters, 2048 bytes
		fm := matchOf(postForm(sbx, withImages(field("vendor_data", long))...))
		Expect(fm.VendorData).To(Equal(&long))
		expectFieldError(postForm(sbx, withImages(field("vendor_data", long+"e"))...), "vendor_data")
		meta := `{"k": "` + strings.Repeat("m", 16384-9) + `"}`
		Expect(meta).To(HaveLen(16384))
		Expect(postForm(sbx, withImages(field("metadata", meta))...).Status).To(Equal(http.StatusOK), "metadata of 16384 characters")
		expectFieldError(postForm(sbx, withImages(field("metadata", `{"k": "`+strings.Repeat("m", 16384-8)+`"}`))...), "metadata")
	})

	It("validates sandbox requests exactly as live ones", Label("FM-VAL-4"), func() {
		k, sbx := live(), sandbox()
		for name, parts := range malformed() {
			lr := postForm(k, parts...)
			sr := postForm(sbx, parts...)
			Expect(lr.Status).To(Equal(http.StatusBadRequest), "%s: live answered %d", name, lr.Status)
			Expect(sr.Status).To(Equal(http.StatusBadRequest), "%s: sandbox answered %d: %s", name, sr.Status, sr.Body)
			Expect(sr.Body).To(MatchJSON(lr.Body), "%s: sandbox and live 400s differ", name)
		}
	})
})
