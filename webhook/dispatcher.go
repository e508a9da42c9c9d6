package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch"
)

// DefaultBackoff is the wait before each retry of a delivery (FM-WH-4): after these, it fails.
var DefaultBackoff = []time.Duration{time.Minute, 4 * time.Minute, 16 * time.Minute, 64 * time.Minute}

// AttemptTimeout bounds one delivery attempt, connection to last byte.
const AttemptTimeout = 10 * time.Second

// ParseBackoff reads a comma-separated list of durations, e.g. "1m,4m,16m,64m".
func ParseBackoff(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("webhook backoff %q: want positive durations separated by commas, e.g. 1m,4m,16m,64m", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// Dispatcher drains the outbox: it leases due deliveries, attempts each with a bounded number
// at once, and records every attempt. Deliveries are durable, so whatever is pending when the
// process stops is attempted after it starts again.
type Dispatcher struct {
	Store       facematch.Outbox
	Guard       *Guard
	Backoff     []time.Duration
	Concurrency int
	// Poll is how often the outbox is looked at when nothing wakes the dispatcher.
	Poll   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, receives every attempt's outcome: delivered, retry or failed.
	Observe func(outcome string, latency time.Duration)

	client *http.Client
	wake   chan struct{}
	once   sync.Once
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		if d.Backoff == nil {
			d.Backoff = DefaultBackoff
		}
		if d.Concurrency <= 0 {
			d.Concurrency = 8
		}
		if d.Poll <= 0 {
			d.Poll = time.Second
		}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.Logger == nil {
			d.Logger = slog.Default()
		}
		if d.Guard == nil {
			d.Guard = &Guard{}
		}
		d.wake = make(chan struct{}, 1)
		d.client = &http.Client{
			Transport: &http.Transport{
				DialContext:           d.Guard.DialContext,
				TLSHandshakeTimeout:   AttemptTimeout,
				ResponseHeaderTimeout: AttemptTimeout,
				MaxIdleConnsPerHost:   2,
				IdleConnTimeout:       30 * time.Second,
			},
			// A redirect is an answer, not a new destination: it is never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
}

// Notify wakes the dispatcher: a session with deliveries was just saved.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts under way.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	slots := make(chan struct{}, d.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	lease := AttemptTimeout + 20*time.Second
	for {
		free := d.Concurrency - len(slots)
		if free > 0 {
			batch, err := d.Store.ClaimDeliveries(ctx, free, lease)
			if err != nil && ctx.Err() == nil {
				d.Logger.Error("claiming webhook deliveries", slog.String("error", err.Error()))
			}
			for _, del := range batch {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots; d.Notify() }()
					d.attempt(context.WithoutCancel(ctx), del)
				}()
			}
			if len(batch) == free {
				continue // more may be due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-time.After(d.Poll):
		}
	}
}

// attempt makes one attempt of a delivery and records its outcome.
func (d *Dispatcher) attempt(ctx context.Context, del facematch.Delivery) {
	now := d.Now()
	a := facematch.Attempt{At: now}
	began := time.Now()
	status, err := d.post(ctx, del, now)
	a.Latency = time.Since(began)
	a.StatusCode = status
	retry := false
	switch {
	case err != nil:
		a.Err = err.Error()
		retry = true // connection errors, timeouts, refused addresses (DNS may change back)
	case status >= 200 && status < 300:
		a.OK = true
	case status == 404 || status == 408 || status == 429 || status >= 500:
		a.Err = fmt.Sprintf("HTTP %d", status)
		retry = true
	default:
		a.Err = fmt.Sprintf("HTTP %d: not retried", status)
	}
	var retryAt *time.Time
	outcome := "delivered"
	if !a.OK {
		outcome = "failed"
		if retry && del.Attempts < len(d.Backoff) {
			t := d.Now().Add(d.Backoff[del.Attempts])
			retryAt = &t
			outcome = "retry"
		}
	}
	if err := d.Store.FinishAttempt(ctx, del, a, retryAt); err != nil {
		d.Logger.Error("recording a webhook attempt", slog.String("webhook_id", del.ID), slog.String("error", err.Error()))
	}
	if d.Observe != nil {
		d.Observe(outcome, a.Latency)
	}
	d.Logger.Info("webhook attempt", slog.String("webhook_id", del.ID), slog.String("destination", del.DestinationID),
		slog.String("session_id", del.SessionID), slog.Int("attempt", del.Attempts+1), slog.Int("status", status),
		slog.String("outcome", outcome), slog.String("error", a.Err), slog.Float64("ms", float64(a.Latency.Microseconds())/1000))
}

// post sends the delivery's body, rendered and signed again for this attempt (FM-WH-3), and
// returns the answer's status.
func (d *Dispatcher) post(ctx context.Context, del facematch.Delivery, now time.Time) (int, error) {
	body, headers, err := SignAttempt(del.Secret, del.ID, del.Body, now)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = headers
	res, err := d.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("timeout after %s", AttemptTimeout)
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
