package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/server"
)

// gatedMatcher holds every call until release is closed, telling entered as each one starts:
// the live calls a test admits stay in the server for as long as it needs them there.
type gatedMatcher struct {
	entered chan struct{}
	release chan struct{}
}

func newGatedMatcher() *gatedMatcher {
	return &gatedMatcher{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (m *gatedMatcher) Match(ctx context.Context, in facematch.MatchInput) (facematch.FaceMatch, error) {
	m.entered <- struct{}{}
	select {
	case <-m.release:
	case <-ctx.Done():
		return facematch.FaceMatch{}, ctx.Err()
	}
	return fixedMatcher{score: fixedScore}.Match(ctx, in)
}

// withMaxLive admits n live calls at once: the matcher's workers plus the places to wait.
func withMaxLive(n int) envOption {
	return func(c *server.Config) { c.MaxLive = n }
}

// With N workers and Q waiting places, N+Q live calls are admitted; every live call beyond them
// is answered 503 at once with Retry-After and the rate-limit headers, and bills nothing, while
// sandbox calls still get their answer. Once the admitted calls finish they all succeed, each
// spending its credit, and a place is free again.
func TestLiveAdmissionRefusesBeyondWorkersAndQueue(t *testing.T) {
	const workers, queue, extra = 2, 3, 4
	gate := newGatedMatcher()
	e := newEnv(t, withMatcher(gate), withMaxLive(workers+queue))
	live := e.tenant(100, facematch.ModeLive)
	sbx := e.tenant(0, facematch.ModeSandbox)
	user, ref := photo(t, "barack_obama/obama.jpg"), photo(t, "barack_obama/obama2.jpg")

	admitted := make([]response, workers+queue)
	var wg sync.WaitGroup
	for i := range admitted {
		wg.Add(1)
		go func() {
			defer wg.Done()
			admitted[i] = e.faceMatch(live.key, user, ref, "save_api_request", "false")
		}()
	}
	for range workers + queue {
		select {
		case <-gate.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the admitted live calls did not all reach the matcher")
		}
	}
	before := e.credits(live.org.ID)

	for range extra {
		r := e.faceMatch(live.key, user, ref, "save_api_request", "false")
		wantStatus(t, r, http.StatusServiceUnavailable)
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After %q, want whole seconds of at least 1", r.header.Get("Retry-After"))
		}
		for _, h := range []string{"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if r.header.Get(h) == "" {
				t.Fatalf("the 503 lacks %s", h)
			}
		}
		if detail, _ := r.json(t)["detail"].(string); !contains(detail, "busy", "nothing was billed") {
			t.Fatalf("detail %q", detail)
		}
	}
	if after := e.credits(live.org.ID); after != before {
		t.Fatalf("refused calls moved the balance from %d to %d", before, after)
	}
	// Sandbox calls are never refused for want of a worker.
	for range 3 {
		wantStatus(t, e.faceMatch(sbx.key, user, ref), http.StatusOK)
	}
	if n := len(gate.entered); n != 0 {
		t.Fatalf("%d refused calls reached the matcher", n)
	}

	close(gate.release)
	wg.Wait()
	for i, r := range admitted {
		if r.status != http.StatusOK {
			t.Fatalf("admitted call %d: %d %s", i, r.status, r.body)
		}
	}
	if got := e.credits(live.org.ID); got != 100-workers-queue {
		t.Fatalf("balance %d after %d answers 200 from 100 credits", got, workers+queue)
	}
	// The places are free again.
	wantStatus(t, e.faceMatch(live.key, user, ref, "save_api_request", "false"), http.StatusOK)
}

// A live call past the places is answered before its body is read: a client still sending (here
// a body that never ends) gets its 503 at once.
func TestLiveAdmissionAnswersBeforeTheBody(t *testing.T) {
	gate := newGatedMatcher()
	e := newEnv(t, withMatcher(gate), withMaxLive(1))
	live := e.tenant(10, facematch.ModeLive)
	user, ref := photo(t, "barack_obama/obama.jpg"), photo(t, "barack_obama/obama2.jpg")
	done := make(chan response, 1)
	go func() { done <- e.faceMatch(live.key, user, ref) }()
	<-gate.entered

	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("--b\r\nContent-Disposition: form-data; name=\"user_image\"; filename=\"u.jpg\"\r\n\r\n"))
	req := e.request(http.MethodPost, "/v3/face-match/", live.key, pr, "multipart/form-data; boundary=b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("no answer while the body was still coming: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	close(gate.release)
	wantStatus(t, <-done, http.StatusOK)
	if got := e.credits(live.org.ID); got != 9 {
		t.Fatalf("balance %d, want 9: one call answered 200, the refused one billed nothing", got)
	}
}

// BenchmarkWaitingLiveCall measures what a live call holds while it waits for a worker: 32 calls
// with two of the load tool's photos are parked in the matcher, and the Go heap they keep, after
// a collection, is reported per call (held-B/call) beside the size of the body each one sent
// (body-B/call). docs/scaling.md quotes it.
func BenchmarkWaitingLiveCall(b *testing.B) {
	const parked = 32
	user, ref := photo(b, "barack_obama/obama1.jpg"), photo(b, "chaeyeon_dia/chaeyeon3.jpg")
	user.field, ref.field = "user_image", "ref_image"
	for range b.N {
		held, bodyLen := waitingLiveCalls(b, parked, user, ref)
		b.ReportMetric(held, "held-B/call")
		b.ReportMetric(bodyLen, "body-B/call")
	}
}

func waitingLiveCalls(b *testing.B, parked int, user, ref file) (held, bodyLen float64) {
	gate := newGatedMatcher()
	e := newEnv(b, withMatcher(gate), withMaxLive(parked), func(c *server.Config) { c.MaxInFlight = parked })
	live := e.tenant(int64(parked), facematch.ModeLive)
	body, ct := form(b, []file{user, ref})
	data, _ := io.ReadAll(body)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range parked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.DefaultClient.Do(e.request(http.MethodPost, "/v3/face-match/", live.key, bytes.NewReader(data), ct))
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	for range parked {
		<-gate.entered
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	close(gate.release)
	wg.Wait()
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(parked), float64(len(data))
}

// Bodies are held within Config.BodyMemory and Config.MaxInFlight: with room for one of the
// largest bodies only, or for one body, a live call of 6.5 MB parked in the matcher leaves no
// room for a second such body, which waits, unanswered, until the first is answered; a request
// without a body waits for neither.
func TestBodiesHeldAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  envOption
	}{
		{"bytes", func(c *server.Config) { c.BodyMemory = server.MaxBodyBytes }},
		{"count", func(c *server.Config) { c.MaxInFlight = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := newGatedMatcher()
			e := newEnv(t, withMatcher(gate), tc.opt)
			live := e.tenant(10, facematch.ModeLive)
			sbx := e.tenant(0, facematch.ModeSandbox)
			// Photos padded to 3.2 MB each: their headers are what the server reads before
			// matching.
			padded := func(rel string) file {
				f := photo(t, rel)
				f.data = append(bytes.Clone(f.data), make([]byte, 3<<20)...)
				return f
			}
			user, ref := padded("barack_obama/obama.jpg"), padded("barack_obama/obama2.jpg")
			var once sync.Once
			release := func() { once.Do(func() { close(gate.release) }) }
			t.Cleanup(release) // before the server closes, also when the test fails

			first := make(chan response, 1)
			go func() { first <- e.faceMatch(live.key, user, ref, "save_api_request", "false") }()
			select {
			case <-gate.entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the first call did not reach the matcher")
			}
			second := make(chan response, 1)
			go func() { second <- e.faceMatch(sbx.key, user, ref) }()
			select {
			case r := <-second:
				t.Fatalf("the second body was answered (%d) while the first held the room", r.status)
			case <-time.After(time.Second):
			}
			wantStatus(t, e.do(e.request(http.MethodGet, "/v3/sessions/", live.key, nil, "")), http.StatusOK)

			release()
			wantStatus(t, <-first, http.StatusOK)
			wantStatus(t, <-second, http.StatusOK)
		})
	}
}
