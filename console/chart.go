package console

import (
	"html/template"
	"strconv"
	"time"

	"github.com/facematch/facematch"
)

// The chart's geometry, in SVG user units.
const (
	chartWidth  = 720
	chartHeight = 200
	chartLeft   = 40
	chartBottom = 24
)

// chart is the overview's SVG bar chart of saved calls per day, stacked by outcome, drawn by the
// server (FM-CON-4).
type chart struct {
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Labels        []tick
	Total         int
	Approved      int
	Declined      int
	NoFace        int
}

type bar struct {
	Day   string
	Title string
	Parts []barPart
}

type barPart struct {
	X, Y, W, H float64
	Class      string
}

type tick struct {
	X, Y float64
	Text string
}

// drawChart lays out n days from from on; days holds the days that had calls.
func drawChart(from time.Time, n int, days []facematch.DayCount) chart {
	byDay := map[string]facematch.DayCount{}
	for _, d := range days {
		byDay[d.Day.Format(time.DateOnly)] = d
	}
	peak := 1
	for _, d := range days {
		peak = max(peak, d.Approved+d.Declined+d.NoFace)
	}
	top := niceCeil(peak)
	plotW := float64(chartWidth - chartLeft - 8)
	plotH := float64(chartHeight - chartBottom - 8)
	step := plotW / float64(n)
	ch := chart{Width: chartWidth, Height: chartHeight}
	for i := range n {
		day := from.AddDate(0, 0, i)
		key := day.Format(time.DateOnly)
		d := byDay[key]
		x := float64(chartLeft) + float64(i)*step + step*0.15
		y := float64(chartHeight - chartBottom)
		b := bar{Day: key, Title: key + ": " + strconv.Itoa(d.Approved) + " Approved, " + strconv.Itoa(d.Declined) + " Declined, " + strconv.Itoa(d.NoFace) + " no face"}
		for _, part := range []struct {
			n     int
			class string
		}{{d.Approved, "approved"}, {d.Declined, "declined"}, {d.NoFace, "noface"}} {
			if part.n == 0 {
				continue
			}
			h := float64(part.n) / float64(top) * plotH
			y -= h
			b.Parts = append(b.Parts, barPart{X: x, Y: y, W: step * 0.7, H: h, Class: part.class})
		}
		ch.Bars = append(ch.Bars, b)
		ch.Approved += d.Approved
		ch.Declined += d.Declined
		ch.NoFace += d.NoFace
		if (n-1-i)%7 == 0 {
			ch.Labels = append(ch.Labels, tick{X: x + step*0.35, Y: float64(chartHeight - 6), Text: day.Format("Jan 2")})
		}
	}
	ch.Total = ch.Approved + ch.Declined + ch.NoFace
	for _, v := range []int{0, top / 2, top} {
		ch.Ticks = append(ch.Ticks, tick{X: chartLeft - 6, Y: float64(chartHeight-chartBottom) - float64(v)/float64(top)*plotH, Text: strconv.Itoa(v)})
	}
	return ch
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten, and to an even number so that
// the middle tick is whole.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{2, 4, 10} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"score": func(s *float64) string {
		if s == nil {
			return "no face pair"
		}
		return strconv.FormatFloat(*s, 'f', 2, 64)
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	},
	"f":       func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"inc":     func(i int) int { return i + 1 },
	"mul4":    func(v float64) float64 { return min(100, max(0, v)) * 4 },
	"safeCSS": func(s string) template.CSS { return template.CSS(s) },
	"strokeW": func(w int) int { return max(2, w/150) },
}

func itoa(i int) string { return strconv.Itoa(i) }
