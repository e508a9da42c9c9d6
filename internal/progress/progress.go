// Package progress reports the progress of long jobs (eval, calibrate, the model conversion)
// where people look: on a terminal, one line redrawn in place with a bar, the rate and the time
// left; in a log (CI, a file, a pipe), one plain line per 10%, so that logs stay short and
// readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether w is a terminal, where a line can be redrawn: a file whose
// terminal attributes can be read (isatty), not merely a character device such as /dev/null.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Bar is the progress of a job of a known number of steps. It is safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	what     string
	total    int
	done     int
	start    time.Time
	drawn    time.Time // when the terminal line was last drawn
	decile   int       // the last 10% step written to a log
	now      func() time.Time
}

// New starts a bar of total steps of what (e.g. "images") written to w; terminal chooses the
// redrawn line over the log lines (pass IsTerminal(w)).
func New(w io.Writer, what string, total int, terminal bool) *Bar {
	return &Bar{w: w, terminal: terminal, what: what, total: total, start: time.Now(), now: time.Now}
}

// Set records that done of total steps are done (total may change as a job learns its size).
func (b *Bar) Set(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.total = done, total
	b.report()
}

// Add records n more steps done.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.report()
}

func (b *Bar) report() {
	now := b.now()
	elapsed := now.Sub(b.start).Seconds()
	rate := float64(b.done) / max(elapsed, 1e-9)
	if !b.terminal {
		if b.total <= 0 {
			return
		}
		decile := 10 * b.done / b.total
		if decile <= b.decile || decile > 10 {
			return
		}
		b.decile = decile
		fmt.Fprintf(b.w, "%s: %3d%% (%d/%d) %.1f/s, %s\n", b.what, 10*decile, b.done, b.total, rate, eta(b.total-b.done, rate))
		return
	}
	if b.done < b.total && now.Sub(b.drawn) < 200*time.Millisecond {
		return
	}
	b.drawn = now
	const width = 30
	filled := min(width, width*b.done/max(b.total, 1))
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d %s  %.1f/s  %s ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		b.done, b.total, b.what, rate, eta(b.total-b.done, rate))
}

// eta words the time left at rate steps per second.
func eta(left int, rate float64) string {
	if left <= 0 {
		return "done"
	}
	if rate <= 0 {
		return "time left unknown"
	}
	return fmt.Sprintf("%s left", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
}

// Finish ends the bar with a summary line: how many steps in how long.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.terminal {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", 80))
	}
	fmt.Fprintf(b.w, "%d %s in %.1fs\n", b.done, b.what, b.now().Sub(b.start).Seconds())
}
