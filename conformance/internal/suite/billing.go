package suite

import (
	"context"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
)

// brokenPixels is a PNG with a valid header and pixel data that cannot be decoded.
func brokenPixels() fixtures.File {
	return fixtures.File{Name: "broken.png", Data: fixtures.BrokenPixelsPNG(320, 240)}
}

// expectNoCredit checks the NotEnoughCredits answer.
func expectNoCredit(r Resp, why string) {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusForbidden), "%s: body %s", why, r.Body)
	expectBody(r, notEnoughCredits)
	expectRateLimitHeaders(r)
}

var _ = Describe("Billing", Label(areaBilling), func() {
	It("consumes exactly one credit per 200, Declined included, and none for a 400", Label("FM-BILL-1"), func() {
		k := newTenant(2, false, "counts credits")
		a1, a2, b := photo(fixtures.PersonA1), photo(fixtures.PersonA2), photo(fixtures.PersonB)
		expectFieldError(postForm(k, file("user_image", a1)), "ref_image")
		expectApproved(matchOf(faceMatch(k, a1, a2)), "same person")
		expectFieldError(faceMatch(k, a1, a2, "face_match_score_decline_threshold", "101"), thresholdField)
		expectFieldError(faceMatch(k, brokenPixels(), a2), "user_image")
		expectDeclinedLow(matchOf(faceMatch(k, b, a1, "save_api_request", "false")), "two people")
		expectNoCredit(faceMatch(k, a1, a2), "two credits, two 200s")
		Expect(addCredits(k, 1)).To(Equal(int64(1)), "the balance was not 0 after two 200s on two credits")
		expectApproved(matchOf(faceMatch(k, a1, a2)), "one credit added")
		expectNoCredit(faceMatch(k, a1, a2), "the added credit was used")
	})

	It("refuses a live call without credit with 403 before any image is decoded", Label("FM-BILL-1", "FM-RL-3"), func() {
		k := noCredit()
		a1 := photo(fixtures.PersonA1)
		expectNoCredit(faceMatch(k, a1, photo(fixtures.PersonA2)), "no credit")
		expectNoCredit(faceMatch(k, brokenPixels(), a1), "pixels that cannot be decoded: the credit check comes first")
		expectNoCredit(faceMatch(k, a1, brokenPixels()), "pixels that cannot be decoded: the credit check comes first")
	})

	It("never lets concurrent calls take the balance below zero: 200s equal the credits consumed", Label("FM-BILL-2"), func() {
		const credits, calls = 3, 8
		k := newTenant(credits, false, "counts credits under concurrency")
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		c := Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k,
			Parts: []report.Part{file("user_image", a1), file("ref_image", a2), field("save_api_request", "false")}}
		var wg sync.WaitGroup
		results := make([]Resp, calls)
		errs := make([]error, calls)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = send(context.Background(), c)
			}()
		}
		wg.Wait()
		ok := 0
		for i, r := range results {
			Expect(errs[i]).NotTo(HaveOccurred())
			switch r.Status {
			case http.StatusOK:
				ok++
			case http.StatusForbidden:
				expectBody(r, notEnoughCredits)
			default:
				Fail("a concurrent call answered " + http.StatusText(r.Status) + ": " + string(r.Body))
			}
		}
		Expect(ok).To(Equal(credits), "%d credits, %d concurrent calls: %d answered 200", credits, calls, ok)
		Expect(addCredits(k, 1)).To(Equal(int64(1)), "the balance is not 0 after the credits were used")
	})
})
