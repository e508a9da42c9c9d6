package suite

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// timestampPattern is FM-RESP-2's format.
const timestampPattern = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$`

// uuidPattern is a lowercase UUID, as openapi.yaml writes ids.
const uuidPattern = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`

var _ = Describe("Face match answers", Label(areaResponse), func() {
	It("echoes vendor_data and metadata, and answers null for each when absent", Label("FM-RESP-1"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		meta := `{"flow": "login", "n": [1, 2.5, null], "nested": {"ok": true, "s": "ü"}}`
		r := faceMatch(k, a1, a2, "vendor_data", "user-123 ✓ <&>", "metadata", meta, "save_api_request", "false")
		fm := matchOf(r)
		Expect(fm.VendorData).To(Equal(strptr("user-123 ✓ <&>")))
		Expect([]byte(fm.Metadata)).To(MatchJSON(meta))
		bare := faceMatch(k, a1, a2, "save_api_request", "false")
		m := bare.Map()
		Expect(m).To(HaveKeyWithValue("vendor_data", BeNil()))
		Expect(m).To(HaveKeyWithValue("metadata", BeNil()))
		empty := matchOf(faceMatch(k, a1, a2, "metadata", "{}", "save_api_request", "false"))
		Expect([]byte(empty.Metadata)).To(MatchJSON(`{}`), "an empty metadata object is echoed, not null")
	})

	It("writes created_at in UTC, RFC 3339 with microseconds and +00:00", Label("FM-RESP-2"), func() {
		k := live()
		r := faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "save_api_request", "false")
		fm := matchOf(r)
		Expect(fm.CreatedAt).To(MatchRegexp(timestampPattern))
		t, err := time.Parse(time.RFC3339Nano, fm.CreatedAt)
		Expect(err).NotTo(HaveOccurred())
		Expect(t).To(BeTemporally("~", serverTime(r), 2*time.Minute), "created_at is not the time of the call")
		sr := faceMatch(sandbox(), photo(fixtures.PersonA1), photo(fixtures.PersonA2))
		st := matchOf(sr).CreatedAt
		Expect(st).To(MatchRegexp(timestampPattern))
		parsed, _ := time.Parse(time.RFC3339Nano, st)
		Expect(parsed).To(BeTemporally("~", serverTime(sr), 2*time.Minute), "the sandbox created_at is not now")
	})

	It("lists every face found, largest first, as [x1, y1, x2, y2] boxes, and none for an image without a face", Label("FM-RESP-3"), func() {
		k := live()
		fm := matchOf(faceMatch(k, photo(fixtures.TwoFaces), photo(fixtures.NoFace), "save_api_request", "false"))
		es := fm.FaceMatch.User.Entities
		Expect(es).To(HaveLen(2))
		for i, e := range es {
			Expect(e.BBox).To(HaveLen(4))
			Expect(e.BBox[0]).To(BeNumerically("<", e.BBox[2]), "x1 >= x2 in %v", e.BBox)
			Expect(e.BBox[1]).To(BeNumerically("<", e.BBox[3]), "y1 >= y2 in %v", e.BBox)
			if i > 0 {
				Expect(area(es[i-1].BBox)).To(BeNumerically(">=", area(e.BBox)), "entities are not largest first")
			}
		}
		Expect(fm.FaceMatch.Ref.Entities).To(BeEmpty())
		Expect(fm.FaceMatch.Ref.Entities).NotTo(BeNil(), "entities is an empty list, not null")
	})

	It("shapes every warning as feature, risk, log_type, descriptions, additional_data and node_id", Label("FM-RESP-4"), func() {
		k := live()
		low := matchOf(faceMatch(k, photo(fixtures.PersonB), photo(fixtures.PersonA1), "save_api_request", "false"))
		none := matchOf(faceMatch(k, photo(fixtures.NoFace), photo(fixtures.PersonA1), "save_api_request", "false"))
		for _, c := range []struct {
			fm   FaceMatchBody
			risk string
			data map[string]any
		}{
			{low, "LOW_FACE_MATCH_SIMILARITY", nil},
			{none, "NO_REFERENCE_IMAGE", map[string]any{"user_image_faces": 0.0, "ref_image_faces": 1.0}},
		} {
			Expect(c.fm.FaceMatch.Warnings).To(HaveLen(1))
			w := c.fm.FaceMatch.Warnings[0]
			Expect(w.Feature).To(Equal("FACEMATCH"))
			Expect(w.Risk).To(Equal(c.risk))
			Expect(w.LogType).To(Equal("error"))
			Expect(w.ShortDescription).NotTo(BeEmpty())
			Expect(w.LongDescription).NotTo(BeEmpty())
			Expect(w.NodeID).To(BeNil())
			if c.data == nil {
				Expect(w.AdditionalData).To(BeNil())
			} else {
				Expect(w.AdditionalData).To(Equal(c.data))
			}
		}
	})

	It("gives the session id as request_id when saved, and a fresh id no endpoint knows when not", Label("FM-RESP-5", "FM-SES-1", "FM-SES-3"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		saved := matchOf(faceMatch(k, a1, a2))
		transient := matchOf(faceMatch(k, a1, a2, "save_api_request", "false"))
		again := matchOf(faceMatch(k, a1, a2, "save_api_request", "false"))
		for _, id := range []string{saved.RequestID, transient.RequestID, again.RequestID} {
			Expect(id).To(MatchRegexp(uuidPattern))
			Expect(uuid.Validate(id)).To(Succeed())
		}
		Expect(transient.RequestID).NotTo(Equal(again.RequestID))
		Expect(decisionOf(decision(k, saved.RequestID)).SessionID).To(Equal(saved.RequestID))
		for _, id := range []string{transient.RequestID, again.RequestID} {
			r := decision(k, id)
			Expect(r.Status).To(Equal(http.StatusNotFound))
			Expect(deleteSession(k, id).Status).To(Equal(http.StatusNotFound))
		}
	})
})
