package webhook

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzCanonical checks the canonical form of any document: it is produced exactly when the
// document is one JSON value whose numbers a double can hold, it is compact valid JSON with the same meaning,
// and it is its own canonical form (so a receiver that re-canonicalizes the body it got computes
// the X-Signature-V2 we sent). Seeds are in testdata/fuzz/FuzzCanonical.
func FuzzCanonical(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := Canonical(doc)
		var in any
		inErr := json.Unmarshal(doc, &in)
		if (err == nil) != (inErr == nil) {
			t.Fatalf("Canonical(%q): %v, but json.Unmarshal: %v", doc, err, inErr)
		}
		if err != nil {
			return
		}
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Canonical(%q) = %q, not JSON: %v", doc, out, err)
		}
		if !reflect.DeepEqual(in, back) {
			t.Fatalf("Canonical(%q) = %q: %v, want %v", doc, out, back, in)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, out); !bytes.Equal(compact.Bytes(), out) {
			t.Fatalf("Canonical(%q) = %q, not compact", doc, out)
		}
		again, err := Canonical(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Canonical(%q) = %q, but Canonical of that = %q, %v", doc, out, again, err)
		}
	})
}

// [FM-WH-3] Numbers are written as Python writes what json.loads made of them, integral floats
// as integers: the expected texts are Python 3's json.dumps(sort_keys=True, separators=(",",
// ":"), ensure_ascii=False) after turning integral floats into ints. Trailing data is refused.
func TestCanonicalNumbersAsPython(t *testing.T) {
	cases := map[string]string{
		`12345678901234567890123`: `12345678901234567890123`, // integers have no bound
		`-0`:                      `0`,
		`-0.0`:                    `0`,
		`2500000.5`:               `2500000.5`,
		`1234567.891`:             `1234567.891`,
		`0.0001`:                  `0.0001`,
		`0.00001`:                 `1e-05`,
		`1.5e-7`:                  `1.5e-07`,
		`-2.5E-5`:                 `-2.5e-05`,
		`1e16`:                    `10000000000000000`,
		`1e20`:                    `100000000000000000000`,
		`9007199254740993.0`:      `9007199254740992`,
		`9007199254740993`:        `9007199254740993`,
		`4503599627370495.5`:      `4503599627370495.5`,
		`1E5`:                     `100000`,
		`1e-400`:                  `0`,
		`5e-324`:                  `5e-324`,
		`[0.1,3.14159,100.25]`:    `[0.1,3.14159,100.25]`,
	}
	for in, want := range cases {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`1e400`, `{"a":-1e999}`, "1" + strings.Repeat("0", 309), `{"a":1}]`, `[1]}`, `{"a":1}}`} {
		if got, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%s) = %s, want an error", bad, got)
		}
	}
}
