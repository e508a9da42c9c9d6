package suite

import (
	"net/http"
	"net/url"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// SessionList is the body of GET /v3/sessions/ (Django REST framework's limit/offset page).
type SessionList struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []struct {
		SessionID     string         `json:"session_id"`
		SessionNumber int            `json:"session_number"`
		SessionKind   string         `json:"session_kind"`
		Status        string         `json:"status"`
		VendorData    *string        `json:"vendor_data"`
		Metadata      map[string]any `json:"metadata"`
		CreatedAt     string         `json:"created_at"`
		Features      []struct {
			Feature string `json:"feature"`
			Status  string `json:"status"`
		} `json:"features"`
		Score *float64 `json:"score"`
	} `json:"results"`
}

func listSessions(k Key, query url.Values) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodGet, Path: "/v3/sessions/?" + query.Encode(), Key: k})
}

func sessionListOf(r Resp) SessionList {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusOK), "body %s", r.Body)
	var l SessionList
	r.Decode(&l)
	return l
}

var _ = Describe("Sessions list", Label(areaSessions), func() {
	It("lists the application's saved sessions newest first, filtered, as a limit/offset page whose links keep the filters", Label("FM-SES-5"), func() {
		k := live()
		tag := "list-" + uuid.NewString()
		first := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "vendor_data", tag+"-a", "metadata", `{"n": 1}`))
		second := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonB), "vendor_data", tag+"-b"))
		third := matchOf(faceMatch(k, photo(fixtures.PersonA2), photo(fixtures.PersonA1), "vendor_data", tag+"-a"))
		matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "vendor_data", tag+"-a", "save_api_request", "false"))

		all := sessionListOf(listSessions(k, url.Values{"search": {tag}}))
		Expect(all.Count).To(Equal(3))
		Expect(all.Next).To(BeNil())
		Expect(all.Previous).To(BeNil())
		Expect(all.Results).To(HaveLen(3))
		Expect(all.Results[0].SessionID).To(Equal(third.RequestID), "not newest first")
		Expect(all.Results[1].SessionID).To(Equal(second.RequestID), "not newest first")
		Expect(all.Results[2].SessionID).To(Equal(first.RequestID), "not newest first")
		row := all.Results[2]
		Expect(row.SessionKind).To(Equal("user"))
		Expect(row.Status).To(Equal(first.FaceMatch.Status))
		Expect(row.Score).To(Equal(first.FaceMatch.Score))
		Expect(row.VendorData).To(Equal(strptr(tag + "-a")))
		Expect(row.Metadata).To(Equal(map[string]any{"n": 1.0}))
		Expect(row.CreatedAt).To(MatchRegexp(timestampPattern))
		Expect(row.Features).To(HaveLen(1))
		Expect(row.Features[0].Feature).To(Equal("FACE_MATCH"))
		Expect(row.Features[0].Status).To(Equal(first.FaceMatch.Status))

		exact := sessionListOf(listSessions(k, url.Values{"vendor_data": {tag + "-a"}, "limit": {"1"}}))
		Expect(exact.Count).To(Equal(2))
		Expect(exact.Results).To(HaveLen(1))
		Expect(exact.Results[0].SessionID).To(Equal(third.RequestID))
		Expect(exact.Previous).To(BeNil())
		Expect(exact.Next).NotTo(BeNil())
		next, err := url.Parse(*exact.Next)
		Expect(err).NotTo(HaveOccurred())
		Expect(next.IsAbs()).To(BeTrue(), "next is not an absolute URL: %s", *exact.Next)
		Expect(next.Query().Get("vendor_data")).To(Equal(tag+"-a"), "next drops the filter")
		page2 := sessionListOf(fetchWithKey(k, *exact.Next))
		Expect(page2.Results).To(HaveLen(1))
		Expect(page2.Results[0].SessionID).To(Equal(first.RequestID))
		Expect(page2.Next).To(BeNil())
		Expect(page2.Previous).NotTo(BeNil())

		declined := sessionListOf(listSessions(k, url.Values{"search": {tag}, "status": {"Declined"}}))
		Expect(declined.Count).To(Equal(1))
		Expect(declined.Results[0].SessionID).To(Equal(second.RequestID))

		Expect(deleteSession(k, first.RequestID).Status).To(Equal(http.StatusNoContent))
		Expect(sessionListOf(listSessions(k, url.Values{"vendor_data": {tag + "-a"}})).Count).To(Equal(1), "a deleted session is still listed")
		Expect(sessionListOf(listSessions(otherApp(), url.Values{"search": {tag}})).Count).To(Equal(0), "another application lists these sessions")
	})

	It("answers an invalid parameter with a 400 keyed by its name", Label("FM-SES-5", "FM-VAL-1"), func() {
		k := live()
		for name, value := range map[string]string{"limit": "0", "offset": "-1", "status": "Pending", "date_from": "yesterday", "date_to": "2026-13-40"} {
			r := listSessions(k, url.Values{name: {value}})
			Expect(r.Status).To(Equal(http.StatusBadRequest), "%s=%s: body %s", name, value, r.Body)
			Expect(r.Map()).To(HaveKey(name), "%s=%s", name, value)
		}
		r := listSessions(k, url.Values{"limit": {"201"}})
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.Map()).To(HaveKey("limit"))
	})
})

// fetchWithKey gets an absolute URL the server gave out, with a key.
func fetchWithKey(k Key, u string) Resp {
	GinkgoHelper()
	return do(Call{Method: http.MethodGet, URL: u, Key: k})
}
