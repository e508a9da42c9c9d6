package suite

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/report"
)

var throttledBody = regexp.MustCompile(`^Request was throttled\. Expected available in (\d+) seconds\.$`)

// limits are the write and read budgets the specs expect, or skip when unknown.
func limits() (int, int) {
	need(env.WriteLimit > 0 && env.ReadLimit > 0,
		"needs the server's rate limits (external target: set FACEMATCH_RATE_LIMITS=default when they are 300 and 600, else WRITE,READ)")
	return env.WriteLimit, env.ReadLimit
}

// rateLimitKey is a key the spec may exhaust: FACEMATCH_RATE_LIMIT_KEY when given, else a fresh
// one made with the admin command.
func rateLimitKey() Key {
	if env.RateLimit.Value == "" && env.Target.Main().Admin() != nil {
		return newTenant(0, false, "exhausts a key's budget")
	}
	return needKey(env.RateLimit, "a key kept for the rate-limit specs")
}

// writeCall is the n-th of a mix of the three write methods, each answered without side effect.
func writeCall(k Key, n int) Call {
	switch n % 3 {
	case 0:
		return Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: k, Parts: []report.Part{}, Throttle: true}
	case 1:
		return Call{Method: http.MethodDelete, Path: "/v3/session/" + uuid.NewString() + "/delete/", Key: k, Throttle: true}
	}
	return Call{Method: http.MethodPatch, Path: destinationsPath + uuid.NewString() + "/", Key: k, JSON: map[string]any{"label": "x"}, Throttle: true}
}

func readCall(k Key) Call {
	return Call{Method: http.MethodGet, Path: "/v3/session/" + uuid.NewString() + "/decision/", Key: k, Throttle: true}
}

// exhaust sends calls until a budget of limit, of which used are spent already, is used up,
// checking the headers on the way.
func exhaust(limit, used int, call func(i int) Call) {
	GinkgoHelper()
	for i := used; i < limit; i++ {
		c := call(i)
		r, err := send(context.Background(), c)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Status).NotTo(Equal(http.StatusTooManyRequests), "throttled after %d of %d requests", i, limit)
		if i == used || i == limit-1 {
			expectRateLimitHeaders(r)
			Expect(r.Header.Get("X-RateLimit-Limit")).To(Equal(strconv.Itoa(limit)))
			Expect(r.Header.Get("X-RateLimit-Remaining")).To(Equal(strconv.Itoa(limit-1-i)), "request %d of %d", i+1, limit)
		}
	}
}

// expectThrottled checks a 429 and its headers.
func expectThrottled(r Resp, limit int) {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusTooManyRequests), "body %s", r.Body)
	var body struct{ Detail string }
	r.Decode(&body)
	m := throttledBody.FindStringSubmatch(body.Detail)
	Expect(m).NotTo(BeNil(), "detail %q", body.Detail)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	Expect(err).NotTo(HaveOccurred(), "Retry-After %q is not whole seconds", r.Header.Get("Retry-After"))
	Expect(retry).To(BeNumerically(">=", 1))
	Expect(retry).To(BeNumerically("<=", 60))
	Expect(m[1]).To(Equal(strconv.Itoa(retry)), "the body's N is not Retry-After")
	expectRateLimitHeaders(r)
	Expect(r.Header.Get("X-RateLimit-Limit")).To(Equal(strconv.Itoa(limit)))
	Expect(r.Header.Get("X-RateLimit-Remaining")).To(Equal("0"))
	reset, _ := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	now := serverTime(r).Unix()
	Expect(reset).To(BeNumerically(">=", now), "X-RateLimit-Reset is in the past")
	Expect(reset).To(BeNumerically("<=", now+61), "X-RateLimit-Reset is beyond the 60-second window")
}

var _ = Describe("Rate limits", Label(areaRateLimit), func() {
	It("keeps one budget for POST, PATCH and DELETE and another for GET, and answers 429 with its headers over either", Label("FM-RL-1", "FM-RL-2"), func() {
		write, read := limits()
		k := rateLimitKey()
		exhaust(write, 0, func(i int) Call { return writeCall(k, i) })
		for i := range 3 {
			expectThrottled(do(writeCall(k, i)), write)
		}
		By("reads still have their own budget")
		r := do(readCall(k))
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.Header.Get("X-RateLimit-Limit")).To(Equal(strconv.Itoa(read)))
		exhaust(read, 1, func(int) Call { return readCall(k) })
		expectThrottled(do(readCall(k)), read)
	})

	It("puts the X-RateLimit headers on every answer to a valid key, and none on a refused key's", Label("FM-RL-2"), func() {
		k := live()
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		saved := faceMatch(k, a1, a2)
		fm := matchOf(saved)
		answers := map[string]Resp{
			"200 face match":   saved,
			"200 sandbox":      faceMatch(sandbox(), a1, a2),
			"200 decision":     decision(k, fm.RequestID),
			"204 delete":       deleteSession(k, fm.RequestID),
			"404 decision":     decision(k, fm.RequestID),
			"400 face match":   postForm(k),
			"403 no credit":    faceMatch(noCredit(), a1, a2),
			"200 destinations": do(Call{Method: http.MethodGet, Path: destinationsPath, Key: k}),
			"404 route":        do(Call{Method: http.MethodGet, Path: "/v3/no-such-route/", Key: k}),
		}
		for name, r := range answers {
			By(name)
			expectRateLimitHeaders(r)
		}
		bad := do(Call{Method: http.MethodPost, Path: "/v3/face-match/", RawKey: strptr("fm_live_0123456789abcdef_" + fmt.Sprintf("%064d", 0)), Parts: []report.Part{}})
		Expect(bad.Status).To(Equal(http.StatusForbidden))
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			Expect(bad.Header.Get(h)).To(BeEmpty(), "%s on the answer to a refused key", h)
		}
	})

	It("checks the key before the rate limit and the rate limit before the request, and a throttled call costs nothing", Label("FM-RL-3", "FM-BILL-1"), func() {
		write, _ := limits()
		admin := needAdmin("revokes a key and counts credits")
		a := newTenant(1, false, "exhausts a key's budget")
		b, err := env.newKey(context.Background(), a.Tenant, "a second key of the same application")
		Expect(err).NotTo(HaveOccurred())
		a1, a2 := photo(fixtures.PersonA1), photo(fixtures.PersonA2)
		exhaust(write, 0, func(i int) Call { return writeCall(a, i) })

		By("a throttled key's invalid request is a 429, not a 400")
		expectThrottled(do(Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: a, Parts: []report.Part{field(thresholdField, "500")}, Throttle: true}), write)
		By("a throttled valid call is a 429 and costs no credit")
		valid := Call{Method: http.MethodPost, Path: "/v3/face-match/", Key: a, Parts: []report.Part{file("user_image", a1), file("ref_image", a2)}, Throttle: true}
		expectThrottled(do(valid), write)
		expectApproved(matchOf(faceMatch(b, a1, a2)), "the organization's one credit is still there")
		expectNoCredit(faceMatch(b, a1, a2), "the one credit was used by the second key")

		By("a throttled key that is revoked is a 403, not a 429")
		_, err = admin(context.Background(), "key", "revoke", "--id", a.Tenant.KeyID)
		Expect(err).NotTo(HaveOccurred())
		r := do(valid)
		Expect(r.Status).To(Equal(http.StatusForbidden))
		expectBody(r, permissionDenied)
	})

	It("checks the request before the credits", Label("FM-RL-3", "FM-BILL-1"), func() {
		k := noCredit()
		expectFieldError(postForm(k), "user_image", "ref_image")
		expectFieldError(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), thresholdField, "500"), thresholdField)
		expectFieldError(faceMatch(k, fixtures.File{Name: "a.jpg", Data: []byte("text")}, photo(fixtures.PersonA2)), "user_image")
	})
})
