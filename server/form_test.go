package server

import (
	"strings"
	"testing"

	"github.com/facematch/facematch"
)

// [FM-VAL-3] The metadata rules, one case each: a JSON object of at most 16 KiB, nested at most
// MaxMetadataDepth levels, whose numbers a double holds; kept compact.
func TestMetadataRules(t *testing.T) {
	nest := func(levels int) string {
		return `{"a":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`
	}
	for _, c := range []struct {
		name, in, want, complaint string
	}{
		{"object", `{"flow": "login", "n": [1, 2.5]}`, `{"flow":"login","n":[1,2.5]}`, ""},
		{"empty object", `{}`, `{}`, ""},
		{"array", `[1,2]`, "", "JSON object"},
		{"string", `"text"`, "", "JSON object"},
		{"null", `null`, "", "JSON object"},
		{"number", `1`, "", "JSON object"},
		{"not JSON", `{"a":}`, "", "valid JSON"},
		{"trailing text", `{"a":1} x`, "", "valid JSON"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "", "valid JSON"},
		{"number past a double", `{"a":1e400}`, "", "out of range"},
		{"nested to the limit", nest(MaxMetadataDepth), nest(MaxMetadataDepth), ""},
		{"nested past the limit", nest(MaxMetadataDepth + 1), "", "nested at most 64 levels"},
		{"brackets in strings do not nest", `{"a":"` + strings.Repeat("[", 100) + `"}`, `{"a":"` + strings.Repeat("[", 100) + `"}`, ""},
		{"escaped quote in a string", `{"a":"\"[[["}`, `{"a":"\"[[["}`, ""},
		{"at the size limit", `{"a":"` + strings.Repeat("x", MaxMetadataBytes-8) + `"}`, `{"a":"` + strings.Repeat("x", MaxMetadataBytes-8) + `"}`, ""},
		{"past the size limit", `{"a":"` + strings.Repeat("x", MaxMetadataBytes-7) + `"}`, "", "no more than 16384 bytes"},
	} {
		errs := facematch.FieldErrors{}
		got := checkMetadata("metadata", part{data: []byte(c.in)}, errs)
		if c.complaint == "" {
			if len(errs) != 0 || string(got) != c.want {
				t.Errorf("%s: %s, complaints %v; want %s", c.name, got, errs, c.want)
			}
			continue
		}
		if got != nil || len(errs["metadata"]) != 1 || !strings.Contains(errs["metadata"][0], c.complaint) {
			t.Errorf("%s: %s, complaints %v; want one containing %q", c.name, got, errs, c.complaint)
		}
	}
}

// jsonDepth counts the nesting of arrays and objects, not of brackets inside strings.
func TestJSONDepth(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want int
	}{
		{`1`, 0}, {`{}`, 1}, {`[[]]`, 2}, {`{"a":[{"b":[]}]}`, 4}, {`{"a":"[[["}`, 1}, {`{"a":"\\"}`, 1}, {`[{},{},[[]]]`, 3},
	} {
		if got := jsonDepth([]byte(c.doc)); got != c.want {
			t.Errorf("jsonDepth(%s) = %d, want %d", c.doc, got, c.want)
		}
	}
}
