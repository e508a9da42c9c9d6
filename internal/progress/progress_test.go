package progress

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step at every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(step); return t }
}

// In a log, a job writes one line per 10% and a summary, however many steps it reports.
func TestLogLinesPerTenPercent(t *testing.T) {
	for _, total := range []int{7, 10, 95, 1750} {
		var buf bytes.Buffer
		b := New(&buf, "pairs", total, false)
		b.now = fakeClock(time.Second)
		for range total {
			b.Add(1)
		}
		b.Finish()
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		want := 10 + 1
		if total < 10 {
			want = total + 1 // each step crosses at least one 10% mark
		}
		if len(lines) != want {
			t.Fatalf("%d steps: %d lines, want %d:\n%s", total, len(lines), want, buf.String())
		}
		if !strings.Contains(lines[len(lines)-2], "100%") || !strings.HasPrefix(lines[len(lines)-1], strconv.Itoa(total)+" pairs in ") {
			t.Fatalf("%d steps: last lines %q", total, lines[len(lines)-2:])
		}
		if strings.Contains(buf.String(), "\r") {
			t.Fatalf("a carriage return in a log: %q", buf.String())
		}
	}
}

// The log lines carry the percentage, the count, the rate and the time left.
func TestLogLineContent(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "images", 100, false)
	b.now = fakeClock(time.Second / 10) // 10 steps per second
	b.Set(10, 100)
	got := strings.TrimSpace(buf.String())
	if !strings.HasPrefix(got, "images:  10% (10/100)") || !strings.Contains(got, "/s") || !strings.Contains(got, "left") {
		t.Fatalf("line %q", got)
	}
}

// On a terminal the line is redrawn in place, at most every 200 ms, and always at the end.
func TestTerminalRedraws(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "images", 1000, true)
	b.now = fakeClock(10 * time.Millisecond)
	for range 1000 {
		b.Add(1)
	}
	draws := strings.Count(buf.String(), "\r[")
	// 1000 steps 10 ms apart: one draw per 200 ms is 50, plus the final one.
	if draws < 45 || draws > 55 {
		t.Fatalf("%d draws", draws)
	}
	if !strings.Contains(buf.String(), "[==============================] 1000/1000 images") {
		t.Fatalf("no full bar at the end: %q", buf.String()[len(buf.String())-120:])
	}
	if strings.Count(buf.String(), "\n") != 0 {
		t.Fatal("the terminal line wrote newlines before Finish")
	}
}

// Files, buffers and character devices that are not terminals (/dev/null) are logs; a
// pseudo-terminal is a terminal.
func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if IsTerminal(f) || IsTerminal(null) || IsTerminal(&bytes.Buffer{}) {
		t.Fatal("a file, /dev/null or a buffer taken for a terminal")
	}
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal to test with: %v", err)
	}
	defer pty.Close()
	if !IsTerminal(pty) {
		t.Fatal("a pseudo-terminal not taken for a terminal")
	}
}
