// Package webhooks is the conformance suite's side of FM-WH-*: an HTTP receiver whose endpoints
// answer deliveries as a spec scripts them (a status per attempt, a stall, a dropped connection)
// and record every attempt, and independent implementations of the signatures a receiver checks.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Reply is how an endpoint answers one attempt.
type Reply struct {
	Status int           // HTTP status to answer (200 when 0)
	Stall  time.Duration // wait this long before answering, or until the sender gives up
	Hangup bool          // close the connection without any answer
}

// Script chooses the reply to the attempt-th attempt (0 for the first) of the delivery whose
// X-Webhook-Id is id.
type Script func(id string, attempt int) Reply

// Always answers every attempt with status.
func Always(status int) Script { return func(string, int) Reply { return Reply{Status: status} } }

// Sequence answers the n-th attempt of each delivery with replies[n], and later ones with the
// last reply.
func Sequence(replies ...Reply) Script {
	return func(_ string, n int) Reply {
		if n >= len(replies) {
			n = len(replies) - 1
		}
		return replies[n]
	}
}

// FirstDelivery answers the attempts of the first delivery it sees with script, and every
// attempt of other deliveries with 200.
func FirstDelivery(script Script) Script {
	var mu sync.Mutex
	first := ""
	return func(id string, n int) Reply {
		mu.Lock()
		if first == "" {
			first = id
		}
		isFirst := id == first
		mu.Unlock()
		if isFirst {
			return script(id, n)
		}
		return Reply{Status: http.StatusOK}
	}
}

// Attempt is one delivery attempt as the receiver saw it.
type Attempt struct {
	At      time.Time
	Header  http.Header
	Body    []byte
	Attempt int   // index of this attempt among those carrying the same X-Webhook-Id
	Reply   Reply // what the endpoint answered
	// GaveUp is how long the sender waited before closing the connection on a stalled reply
	// (0 when it did not give up).
	GaveUp time.Duration
}

// WebhookID is the attempt's X-Webhook-Id.
func (a Attempt) WebhookID() string { return a.Header.Get("X-Webhook-Id") }

// Receiver is an HTTP server whose endpoints live under /hooks/{token}.
type Receiver struct {
	srv    *http.Server
	ln     net.Listener
	public string

	mu        sync.Mutex
	endpoints map[string]*Endpoint
}

// Endpoint is one URL of the receiver, for one destination.
type Endpoint struct {
	URL    string
	script Script

	mu       sync.Mutex
	attempts []Attempt
	perID    map[string]int
}

// Listen starts a receiver on listen (host:port); publicBase is the URL servers reach it at,
// or "" for http://<the listening address>.
func Listen(listen, publicBase string) (*Receiver, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	if publicBase == "" {
		publicBase = "http://" + ln.Addr().String()
	}
	r := &Receiver{ln: ln, public: strings.TrimRight(publicBase, "/"), endpoints: map[string]*Endpoint{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		return r.srv.Close()
	}
	return nil
}

// Endpoint adds an endpoint answering as script says.
func (r *Receiver) Endpoint(script Script) *Endpoint {
	b := make([]byte, 12)
	rand.Read(b)
	token := hex.EncodeToString(b)
	e := &Endpoint{URL: r.public + "/hooks/" + token, script: script, perID: map[string]int{}}
	r.mu.Lock()
	r.endpoints[token] = e
	r.mu.Unlock()
	return e
}

// Attempts are the attempts received so far, oldest first.
func (e *Endpoint) Attempts() []Attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Attempt(nil), e.attempts...)
}

// ForSession are the attempts whose body names sessionID.
func (e *Endpoint) ForSession(sessionID string) []Attempt {
	var out []Attempt
	for _, a := range e.Attempts() {
		if strings.Contains(string(a.Body), `"`+sessionID+`"`) {
			out = append(out, a)
		}
	}
	return out
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	token, ok := strings.CutPrefix(req.URL.Path, "/hooks/")
	r.mu.Lock()
	e := r.endpoints[strings.TrimSuffix(token, "/")]
	r.mu.Unlock()
	if !ok || e == nil || req.Method != http.MethodPost {
		http.Error(w, "no such endpoint", http.StatusGone)
		return
	}
	body, _ := io.ReadAll(req.Body)
	e.mu.Lock()
	id := req.Header.Get("X-Webhook-Id")
	n := e.perID[id]
	e.perID[id] = n + 1
	reply := e.script(id, n)
	idx := len(e.attempts)
	e.attempts = append(e.attempts, Attempt{At: time.Now(), Header: req.Header.Clone(), Body: body, Attempt: n, Reply: reply})
	e.mu.Unlock()

	if reply.Stall > 0 {
		start := time.Now()
		select {
		case <-time.After(reply.Stall):
		case <-req.Context().Done():
			e.mu.Lock()
			e.attempts[idx].GaveUp = time.Since(start)
			e.mu.Unlock()
			return
		}
	}
	if reply.Hangup {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}
