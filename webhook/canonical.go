// Package webhook delivers status.updated events: the canonical JSON bodies and their
// signatures (FM-WH-2, FM-WH-3, FM-WH-6), the guard that keeps deliveries away from link-local,
// metadata and (unless allowed) private addresses (FM-WH-5), and the dispatcher that drains the
// durable outbox with retries (FM-WH-4).
package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical re-encodes a JSON document canonically: object keys sorted, no spaces, numbers that
// are integral written as integers, and non-ASCII text left unescaped (as Python's
// json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes it).
func Canonical(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("canonical: trailing data after the JSON value")
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CanonicalOf encodes a Go value canonically.
func CanonicalOf(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonical(b)
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case json.Number:
		return writeNumber(buf, x)
	case string:
		writeString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical: unexpected %T", v)
	}
	return nil
}

// writeNumber writes a number as Python's json.dumps writes what json.loads made of it, with
// integral floats written as integers: integer literals exactly as they are (Python keeps every
// digit), integral floats (1.0, 1e2, 1e20) as the exact integer they hold, other floats as the
// shortest text that reads back as the same double, in exponent form only below 1e-4 or from
// 1e16 (Python's repr). A number beyond the range of a double is refused, an integer literal
// included: JavaScript reads it as Infinity and Go's encoding/json not at all.
func writeNumber(buf *bytes.Buffer, n json.Number) error {
	s := n.String()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("canonical: bad number %q", s)
	}
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" {
			s = "0"
		}
		buf.WriteString(s)
		return nil
	}
	if f == math.Trunc(f) {
		i, _ := big.NewFloat(f).Int(nil)
		buf.WriteString(i.String())
		return nil
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	if exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:]); exp < -4 || exp >= 16 {
		buf.WriteString(e)
		return nil
	}
	buf.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	return nil
}

// writeString escapes what JSON requires and nothing else: quote, backslash and control
// characters; all other text, non-ASCII included, is written as it is.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(buf, `\u%04x`, r)
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}
