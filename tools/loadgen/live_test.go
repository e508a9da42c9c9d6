package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/tools/loadgen/load"
)

// In a log, the live line is written at each 10% of the run, with the answers counted by class.
func TestLiveLineInALog(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLiveLine(&buf, false, 20*time.Second, 0, start)
	for s := 1; s <= 40; s++ { // two ticks a second for 20 seconds
		for _, r := range []load.Result{{Status: 200}, {Status: 200}, {Status: 429}, {Status: 503}, {Err: errors.New("reset")}} {
			l.record(r)
		}
		l.tick(start.Add(time.Duration(s) * 500 * time.Millisecond))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want one per 10%%:\n%s", len(lines), buf.String())
	}
	last := lines[9]
	for _, want := range []string{"100%", "20.0s", "200 requests", "2xx 80", "4xx 40", "5xx 40", "no answer 40", "10.0/s"} {
		if !strings.Contains(last, want) {
			t.Fatalf("last line %q lacks %q", last, want)
		}
	}
}

// A run bounded by its number of requests is as far along as its requests.
func TestLiveLineByRequests(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	l := newLiveLine(&buf, false, time.Hour, 50, start)
	for range 25 {
		l.record(load.Result{Status: 200})
	}
	l.tick(start.Add(time.Second))
	if got := strings.TrimSpace(buf.String()); !strings.HasPrefix(got, "50%") {
		t.Fatalf("halfway by requests: %q", got)
	}
}

// On a terminal the line is redrawn in place at every tick, and never ends a line.
func TestLiveLineOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	l := newLiveLine(&buf, true, time.Minute, 0, start)
	for s := 1; s <= 5; s++ {
		l.record(load.Result{Status: 200})
		l.tick(start.Add(time.Duration(s) * time.Second))
	}
	if n := strings.Count(buf.String(), "\r"); n != 5 || strings.Contains(buf.String(), "\n") {
		t.Fatalf("%d redraws: %q", n, buf.String())
	}
}
