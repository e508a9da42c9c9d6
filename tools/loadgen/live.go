package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch/tools/loadgen/load"
)

// liveLine shows a load run as it goes: on a terminal, one line redrawn every second with the
// requests so far, the rate of the last second and the answers by class; in a log, the same
// line at each 10% of the run.
type liveLine struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	duration time.Duration // the run's bounds, for its progress; 0 when unbounded that way
	requests int
	start    time.Time

	done, ok, client, server, noAnswer int
	lastDone                           int       // done at the last draw
	lastAt                             time.Time // time of the last draw
	decile                             int       // the last 10% step written to a log
}

func newLiveLine(w io.Writer, terminal bool, duration time.Duration, requests int, start time.Time) *liveLine {
	return &liveLine{w: w, terminal: terminal, duration: duration, requests: requests, start: start, lastAt: start}
}

// record counts one result; it is the run's OnResult.
func (l *liveLine) record(r load.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	switch {
	case r.Err != nil:
		l.noAnswer++
	case r.Status >= 500:
		l.server++
	case r.Status >= 400:
		l.client++
	default:
		l.ok++
	}
}

// fraction is how far the run is, from 0 to 1, by its duration or its requests, whichever is
// further along.
func (l *liveLine) fraction(now time.Time) float64 {
	f := 0.0
	if l.duration > 0 {
		f = max(f, float64(now.Sub(l.start))/float64(l.duration))
	}
	if l.requests > 0 {
		f = max(f, float64(l.done)/float64(l.requests))
	}
	return min(f, 1)
}

// tick draws the line at now: on a terminal always, in a log when the run passed another 10%.
func (l *liveLine) tick(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	frac := l.fraction(now)
	if !l.terminal {
		decile := int(10 * frac)
		if decile <= l.decile {
			return
		}
		l.decile = decile
	}
	rate := 0.0
	if dt := now.Sub(l.lastAt).Seconds(); dt > 0 {
		rate = float64(l.done-l.lastDone) / dt
	}
	l.lastDone, l.lastAt = l.done, now
	line := fmt.Sprintf("%3.0f%% %6.1fs  %d requests  %.1f/s  2xx %d  4xx %d  5xx %d  no answer %d",
		100*frac, now.Sub(l.start).Seconds(), l.done, rate, l.ok, l.client, l.server, l.noAnswer)
	if l.terminal {
		fmt.Fprintf(l.w, "\r%-100s", line)
		return
	}
	fmt.Fprintln(l.w, line)
}

// run draws the line every second until stop is closed, then clears a terminal's line.
func (l *liveLine) run(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if l.terminal {
				fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", 100))
			}
			return
		case now := <-t.C:
			l.tick(now)
		}
	}
}
