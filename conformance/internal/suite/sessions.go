package suite

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// Decision is the body of GET /v3/session/{id}/decision/.
type Decision struct {
	SessionID     string         `json:"session_id"`
	SessionNumber int            `json:"session_number"`
	SessionKind   string         `json:"session_kind"`
	Status        string         `json:"status"`
	Environment   string         `json:"environment"`
	WorkflowID    *string        `json:"workflow_id"`
	Features      []string       `json:"features"`
	VendorData    *string        `json:"vendor_data"`
	Metadata      map[string]any `json:"metadata"`
	CreatedAt     string         `json:"created_at"`
	FaceMatches   []struct {
		Status               string    `json:"status"`
		Score                *float64  `json:"score"`
		SourceImage          string    `json:"source_image"`
		TargetImage          string    `json:"target_image"`
		SourceImageSessionID *string   `json:"source_image_session_id"`
		Warnings             []Warning `json:"warnings"`
		NodeID               *string   `json:"node_id"`
	} `json:"face_matches"`
}

func decisionOf(r Resp) Decision {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
	var d Decision
	r.Decode(&d)
	return d
}

// serverTime is the Date of an answer, the server's clock.
func serverTime(r Resp) time.Time {
	GinkgoHelper()
	t, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return time.Now()
	}
	return t
}

// otherFeatures are the decision's feature arrays that face-match sessions leave null.
var otherFeatures = []string{"id_verifications", "nfc_verifications", "liveness_checks", "poa_verifications", "phone_verifications",
	"email_verifications", "aml_screenings", "ip_analyses", "database_validations", "reviews"}

var _ = Describe("Sessions", Label(areaSessions), func() {
	It("saves a live call as a session whose id is the request_id, with ref_image as its source and user_image as its target", Label("FM-SES-1", "FM-RESP-5"), func() {
		k := live()
		user, ref := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		fm := matchOf(faceMatch(k, user, ref, "vendor_data", "ses-1", "metadata", `{"flow": "login", "step": 2}`))
		d := decisionOf(decision(k, fm.RequestID))
		Expect(d.SessionID).To(Equal(fm.RequestID))
		Expect(d.Status).To(Equal(fm.FaceMatch.Status))
		Expect(d.FaceMatches).To(HaveLen(1))
		Expect(d.FaceMatches[0].Status).To(Equal(fm.FaceMatch.Status))
		Expect(d.FaceMatches[0].Score).To(Equal(fm.FaceMatch.Score))
		Expect(d.VendorData).To(Equal(strptr("ses-1")))
		Expect(d.Metadata).To(Equal(map[string]any{"flow": "login", "step": 2.0}))
		src := fetch(d.FaceMatches[0].SourceImage)
		Expect(src.Status).To(Equal(http.StatusOK))
		Expect(src.Body).To(Equal(ref.Data), "source_image is not the ref_image as submitted")
		tgt := fetch(d.FaceMatches[0].TargetImage)
		Expect(tgt.Status).To(Equal(http.StatusOK))
		Expect(tgt.Body).To(Equal(user.Data), "target_image is not the user_image as submitted")
	})

	It("answers the decision in the commercial API's shape, other features null", Label("FM-SES-2"), func() {
		k := live()
		first := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonB)))
		second := matchOf(faceMatch(k, photo(fixtures.NoFace), photo(fixtures.PersonA1)))
		r := decision(k, first.RequestID)
		d := decisionOf(r)
		Expect(d.SessionKind).To(Equal("user"))
		Expect(d.Environment).To(Equal("live"))
		Expect(d.WorkflowID).To(BeNil())
		Expect(d.Features).To(Equal([]string{"FACE_MATCH"}))
		Expect(d.VendorData).To(BeNil())
		Expect(d.Metadata).To(BeNil())
		Expect(d.CreatedAt).To(MatchRegexp(timestampPattern))
		Expect(d.SessionNumber).To(BeNumerically(">=", 1))
		m := r.Map()
		var absent []string
		for _, f := range otherFeatures {
			if v, ok := m[f]; ok {
				Expect(v).To(BeNil(), "%s is not null (FM-SES-2: the other feature arrays are null)", f)
			} else {
				absent = append(absent, f)
			}
		}
		if len(absent) > 0 {
			note("the decision leaves out %s, which our server writes as null (x-facematch-always-present)", strings.Join(absent, ", "))
		}
		fm := d.FaceMatches[0]
		Expect(fm.SourceImageSessionID).To(BeNil())
		Expect(fm.NodeID).To(BeNil())
		Expect(fm.Warnings).To(Equal(first.FaceMatch.Warnings))
		Expect(fm.SourceImage).NotTo(Equal(fm.TargetImage), "source_image and target_image are one URL")
		for _, u := range []string{fm.SourceImage, fm.TargetImage} {
			pu, err := url.Parse(u)
			Expect(err).NotTo(HaveOccurred(), "%q is not a URL", u)
			Expect(pu.IsAbs()).To(BeTrue(), "%q is not an absolute URL", u)
			if !strings.Contains(pu.Path, "/media/sessions/"+first.RequestID+"/") {
				note("image URLs live elsewhere than under our server's /media/sessions/{id}/")
			}
		}

		d2 := decisionOf(decision(k, second.RequestID))
		Expect(d2.FaceMatches[0].Score).To(BeNil(), "a saved call without a face pair has a null score")
		Expect(d2.SessionNumber).To(BeNumerically(">", d.SessionNumber), "session numbers do not increase within the application")
	})

	It("signs image URLs and answers 403 to an altered, incomplete or swapped one", Label("FM-SES-2"), func() {
		k := live()
		fm := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		r := decision(k, fm.RequestID)
		d := decisionOf(r)
		src, err := url.Parse(d.FaceMatches[0].SourceImage)
		Expect(err).NotTo(HaveOccurred())
		tgt, err := url.Parse(d.FaceMatches[0].TargetImage)
		Expect(err).NotTo(HaveOccurred())
		Expect(fetch(src.String()).Status).To(Equal(http.StatusOK))
		// Our server's scheme (x-facematch): expires (Unix seconds, 60 minutes on) and signature
		// query parameters. Another scheme is a note; its expiry is checked by the next spec.
		if e, err := strconv.ParseInt(src.Query().Get("expires"), 10, 64); err != nil {
			note("image URLs carry no expires parameter in Unix seconds, as our server's do")
		} else if now := serverTime(r).Unix(); e < now+3600-120 || e > now+3600+120 {
			note("image URLs expire %d s after the call; our server's default is 3600 s", e-now)
		}

		// The credential is what the server added to a URL of the image: change any of it, drop
		// it, or move it to the other image, and the URL answers 403.
		altered := map[string]string{"no query": withQuery(src, "")}
		q := src.Query()
		for name := range q {
			v := url.Values{}
			for n, vs := range q {
				v[n] = append([]string(nil), vs...)
			}
			val := []byte(v.Get(name))
			if len(val) == 0 {
				continue
			}
			i := len(val) / 2
			val[i] = map[bool]byte{true: 'b', false: 'a'}[val[i] == 'a']
			v.Set(name, string(val))
			altered["altered "+name] = withQuery(src, v.Encode())
			v.Del(name)
			altered["no "+name] = withQuery(src, v.Encode())
		}
		if src.RawQuery != "" && tgt.RawQuery != "" && src.Path != tgt.Path {
			altered["source's query on the target's path"] = withQuery(tgt, src.RawQuery)
		}
		Expect(len(altered)).To(BeNumerically(">", 1), "the image URL %s carries no query: nothing in it can sign it", src.Redacted())
		for name, u := range altered {
			r := fetch(u)
			Expect(r.Status).To(Equal(http.StatusForbidden), "%s: %s answered %d", name, u, r.Status)
		}
	})

	It("stops serving an image URL once it expires", Label("FM-SES-2", labelSlow), func() {
		s := strictServer() // image URLs live 2 seconds there
		k := tenantOn(s, 2)
		fm := matchOf(do(on(s, Call{Method: "POST", Path: "/v3/face-match/", Key: k,
			Parts: append(fields(), file("user_image", photo(fixtures.PersonA1)), file("ref_image", photo(fixtures.PersonA2)))})))
		d := decisionOf(do(on(s, Call{Method: "GET", Path: "/v3/session/" + fm.RequestID + "/decision/", Key: k})))
		u := d.FaceMatches[0].TargetImage
		Expect(fetch(u).Status).To(Equal(http.StatusOK))
		pu, _ := url.Parse(u)
		expires, _ := strconv.ParseInt(pu.Query().Get("expires"), 10, 64)
		if expires == 0 { // another URL scheme: the server was started with a 2-second lifetime
			expires = time.Now().Unix() + 2
		}
		time.Sleep(time.Until(time.Unix(expires+1, 0).Add(100 * time.Millisecond)))
		Expect(fetch(u).Status).To(Equal(http.StatusForbidden), "an expired URL still works")
	})

	It("answers 404 Not found for unknown, malformed, transient and sandbox ids", Label("FM-SES-3", "FM-RESP-5"), func() {
		k := live()
		transient := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "save_api_request", "false"))
		sbx := matchOf(faceMatch(sandbox(), photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		for name, id := range map[string]string{
			"unknown":       uuid.NewString(),
			"not a UUID":    "not-a-uuid",
			"transient":     transient.RequestID,
			"sandbox":       sbx.RequestID,
			"integer":       "1",
			"nil UUID":      "00000000-0000-0000-0000-000000000000",
			"too long UUID": uuid.NewString() + "0",
		} {
			for _, r := range []Resp{decision(k, id), deleteSession(k, id)} {
				Expect(r.Status).To(Equal(http.StatusNotFound), "%s id %s", name, id)
				expectBody(r, notFound)
			}
		}
		r := decision(sandbox(), sbx.RequestID)
		Expect(r.Status).To(Equal(http.StatusNotFound), "a sandbox key sees a session of its own call")
	})

	It("deletes a session and both images: 204, then 404 for the decision, the deletion and the image URLs", Label("FM-SES-4"), func() {
		k := live()
		fm := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		d := decisionOf(decision(k, fm.RequestID))
		r := deleteSession(k, fm.RequestID)
		Expect(r.Status).To(Equal(http.StatusNoContent))
		Expect(r.Body).To(BeEmpty())
		for _, r := range []Resp{decision(k, fm.RequestID), deleteSession(k, fm.RequestID)} {
			Expect(r.Status).To(Equal(http.StatusNotFound))
			expectBody(r, notFound)
		}
		for _, u := range []string{d.FaceMatches[0].SourceImage, d.FaceMatches[0].TargetImage} {
			Expect(fetch(u).Status).To(Equal(http.StatusNotFound), "the image URL of a deleted session answers")
		}
	})
})

// withQuery is u with another raw query.
func withQuery(u *url.URL, rawQuery string) string {
	c := *u
	c.RawQuery = rawQuery
	return c.String()
}
