package server

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/facematch/facematch"
)

// liveAdmission bounds the live face-match calls a server holds at once: the matcher's workers
// and the places to wait for one. A live call past them is answered 503 at once, before its body
// is read, instead of waiting with its body and form in memory; this is what bounds the memory a
// server needs under any load (docs/scaling.md).
type liveAdmission struct {
	places chan struct{} // one token per live call admitted

	mu   sync.Mutex
	mean time.Duration // moving average of how long an admitted call stayed
}

func newLiveAdmission(places int) *liveAdmission {
	return &liveAdmission{places: make(chan struct{}, places)}
}

// admit takes a place if one is free.
func (a *liveAdmission) admit() bool {
	select {
	case a.places <- struct{}{}:
		return true
	default:
		return false
	}
}

// leave frees the place of a call that stayed d.
func (a *liveAdmission) leave(d time.Duration) {
	a.mu.Lock()
	if a.mean == 0 {
		a.mean = d
	} else {
		a.mean += (d - a.mean) / 8
	}
	a.mu.Unlock()
	<-a.places
}

// retryAfter estimates when a place frees: with every place taken, one call of the average stay
// ends every mean/places, rounded up to whole seconds, at least one.
func (a *liveAdmission) retryAfter() time.Duration {
	a.mu.Lock()
	mean := a.mean
	a.mu.Unlock()
	wait := mean / time.Duration(cap(a.places))
	return time.Duration(max(1, math.Ceil(wait.Seconds()))) * time.Second
}

// drainLimit is the most net/http reads of an unread body to keep a connection open.
const drainLimit = 256 << 10

// msgLiveBusy is the detail of a live call refused because every place is taken.
const msgLiveBusy = "Every face-matching worker of this server is busy and its queue is full; nothing was billed. Try again after Retry-After seconds."

// admitLive lets a live face-match call in only while a place is free (Config.MaxLive), and
// answers the others 503 with Retry-After at once: the key and the rate limit have run, the
// body is not read, no credit is reserved (FM-BILL-2). Sandbox calls, and every call of a
// sandbox-only server, pass untouched.
func (s *Server) admitLive(next http.Handler) http.Handler {
	if s.live == nil || s.cfg.Matcher == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if callerFrom(r.Context()).App.Mode == facematch.ModeSandbox {
			next.ServeHTTP(w, r)
			return
		}
		if !s.live.admit() {
			// net/http reads what is left of a small body before answering, to keep the
			// connection; a large or unbounded one is not waited for: the connection closes.
			if r.ContentLength < 0 || r.ContentLength > drainLimit {
				w.Header().Set("Connection", "close")
			}
			s.writeError(w, r, &facematch.Error{Code: facematch.EUNAVAILABLE, Message: msgLiveBusy, RetryAfter: s.live.retryAfter()})
			return
		}
		start := time.Now()
		defer func() { s.live.leave(time.Since(start)) }()
		next.ServeHTTP(w, r)
	})
}
