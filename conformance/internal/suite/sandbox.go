package suite

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// sandboxExample is the face_match object of openapi.yaml's SandboxFaceMatch example.
func sandboxExample() (map[string]any, string) {
	GinkgoHelper()
	ex := env.Doc.Components.Examples["SandboxFaceMatch"]
	Expect(ex).NotTo(BeNil(), "openapi.yaml has no SandboxFaceMatch example")
	b, err := json.Marshal(ex.Value.Value)
	Expect(err).NotTo(HaveOccurred())
	var v map[string]any
	Expect(json.Unmarshal(b, &v)).To(Succeed())
	return v["face_match"].(map[string]any), v["request_id"].(string)
}

var _ = Describe("Sandbox", Label(areaSandbox), func() {
	It("answers the fixed Approved payload with a fresh request_id, the time of the call and the caller's vendor_data and metadata", Label("FM-SBX-1", "FM-RESP-1"), func() {
		k := sandbox()
		want, exampleID := sandboxExample()
		a1, b := photo(fixtures.PersonA1), photo(fixtures.PersonB)
		r1 := faceMatch(k, a1, b, "vendor_data", "sdk-test", "metadata", `{"flow": "signup"}`, "face_match_score_decline_threshold", "99")
		r2 := faceMatch(k, photo(fixtures.NoFace), a1, "rotate_image", "true")
		var fixed []any
		for _, r := range []Resp{r1, r2} {
			Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
			m := r.Map()
			fixed = append(fixed, m["face_match"])
			Expect(m["request_id"]).To(MatchRegexp(uuidPattern))
			Expect(m["request_id"]).NotTo(Equal(exampleID))
		}
		// Fixed: the same face_match whatever the images and the threshold, and Approved.
		Expect(fixed[1]).To(Equal(fixed[0]), "two sandbox calls with other images and thresholds got another face_match")
		Expect(matchOf(r1).FaceMatch.Status).To(Equal("Approved"))
		Expect(matchOf(r1).FaceMatch.Warnings).To(BeEmpty())
		if !reflect.DeepEqual(fixed[0], want) {
			note("the sandbox face_match is not openapi.yaml's SandboxFaceMatch example, our server's payload")
		}
		f1, f2 := matchOf(r1), matchOf(r2)
		Expect(f1.RequestID).NotTo(Equal(f2.RequestID), "two sandbox calls got the same request_id")
		Expect(f1.VendorData).To(Equal(strptr("sdk-test")))
		Expect([]byte(f1.Metadata)).To(MatchJSON(`{"flow": "signup"}`))
		Expect(f2.VendorData).To(BeNil())
		Expect(string(f2.Metadata)).To(Equal("null"))
	})

	It("decodes no image, stores no session and uses no credit", Label("FM-SBX-1", "FM-BILL-1"), func() {
		k := sandbox()
		if env.Target.Main().Admin() != nil {
			k = newTenant(0, true, "a sandbox organization without credit")
		}
		a1 := photo(fixtures.PersonA1)
		fm := matchOf(faceMatch(k, brokenPixels(), brokenPixels()))
		Expect(fm.FaceMatch.Status).To(Equal("Approved"), "pixels were decoded: a sandbox call never decodes them")
		for range 3 {
			matchOf(faceMatch(k, a1, a1))
		}
		Expect(decision(k, fm.RequestID).Status).To(Equal(http.StatusNotFound), "a sandbox call was stored as a session")
		if env.Live.Value != "" {
			Expect(decision(env.Live, fm.RequestID).Status).To(Equal(http.StatusNotFound))
		}
		if k.Tenant != nil {
			Expect(addCredits(k, 1)).To(Equal(int64(1)), "sandbox calls changed the organization's balance")
		}
	})
})

var _ = Describe("Sandbox examples", Label(areaSandbox), func() {
	It("answers the example a Prefer: example=NAME header names, 400 for an unknown name, and a live key ignores it", Label("FM-SBX-2"), func() {
		k := sandbox()
		a1, a2, b := photo(fixtures.PersonA1), photo(fixtures.PersonA2), photo(fixtures.PersonB)
		call := func(key Key, user, ref fixtures.File, prefer string) Resp {
			c := faceMatchCall(key, user, ref, "save_api_request", "false")
			if prefer != "" {
				c.Header = [][2]string{{"Prefer", prefer}}
			}
			return do(c)
		}
		approved := matchOf(call(k, a1, b, "example=approved"))
		expectApproved(approved, "Prefer: example=approved")
		Expect(approved.FaceMatch).To(Equal(matchOf(call(k, a1, b, "")).FaceMatch), "example=approved is not the default answer")
		expectDeclinedLow(matchOf(call(k, a1, a2, "example=declined")), "Prefer: example=declined")
		noFace := matchOf(call(k, a1, a2, "example=no_face"))
		Expect(noFace.FaceMatch.Status).To(Equal("Declined"), "Prefer: example=no_face")
		Expect(noFace.FaceMatch.Score).To(BeNil(), "Prefer: example=no_face: the score is null")
		Expect(noFace.FaceMatch.Warnings).To(HaveLen(1))
		Expect(noFace.FaceMatch.Warnings[0].Risk).To(Equal("NO_REFERENCE_IMAGE"))
		m := expectFieldError(call(k, a1, a2, "example=no_such_example"), "non_field_errors")
		listed := fmt.Sprint(m["non_field_errors"])
		for _, name := range []string{"approved", "declined", "no_face"} {
			Expect(listed).To(ContainSubstring(name), "the 400 for an unknown example does not list %s", name)
		}
		expectApproved(matchOf(call(live(), a1, a2, "example=declined")), "a live key answered the example a Prefer header named")
	})
})
