package webhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// hexHMAC is the lowercase hex HMAC-SHA256 of msg keyed with key.
func hexHMAC(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// Signature is X-Signature (FM-WH-3): hex HMAC-SHA256 of the raw body keyed with the whole
// secret string, "whsec_" included.
func Signature(secret string, body []byte) string { return hexHMAC([]byte(secret), body) }

// SignatureV2 is X-Signature-V2 (FM-WH-3): the same over the canonical JSON of the body.
func SignatureV2(secret string, body []byte) (string, error) {
	c, err := Canonical(body)
	if err != nil {
		return "", err
	}
	return hexHMAC([]byte(secret), c), nil
}

// SignatureSimple is X-Signature-Simple (FM-WH-3): the same over
// "{timestamp}:{session_id}:{status}:{webhook_type}".
func SignatureSimple(secret string, timestamp int64, sessionID, status, webhookType string) string {
	return hexHMAC([]byte(secret), fmt.Appendf(nil, "%d:%s:%s:%s", timestamp, sessionID, status, webhookType))
}

// StandardSignature is the Standard Webhooks signature (FM-WH-6) of a delivery:
// "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the base64-decoded part of
// the secret after "whsec_".
func StandardSignature(secret, id, timestamp string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("secret %q is not whsec_ + base64: %w", secret, err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// StandardSignatureMatches tells whether a webhook-signature header, a space-separated list of
// "version,signature" entries, holds want.
func StandardSignatureMatches(header, want string) bool {
	for _, s := range strings.Fields(header) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// Canonical re-encodes JSON the way FM-WH-3 defines it: object keys sorted, compact separators,
// numbers with an integral value written as integers, other numbers as Python's repr writes
// them, and non-ASCII characters left unescaped (Python's json.dumps with sort_keys=True,
// separators=(",", ":"), ensure_ascii=False).
func Canonical(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := canonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func canonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case string:
		quote(buf, x)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return err
		}
		buf.WriteString(pyNumber(f))
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := canonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // Python sorts by code point; for UTF-8 byte order is the same
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			quote(buf, k)
			buf.WriteByte(':')
			if err := canonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical: unexpected %T", v)
	}
	return nil
}

// pyNumber writes f as an integer when integral, else as Python's float repr.
func pyNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e300 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	if exp >= -4 && exp < 16 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-07, 1.5e+20: the same as Python's repr
	return s
}

// quote writes s as a JSON string escaping only what JSON requires, as Python does with
// ensure_ascii=False.
func quote(buf *bytes.Buffer, s string) {
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

// SortedCompact tells whether doc is written with the keys of every object in sorted order and
// no whitespace outside strings (FM-WH-2); the error says where it is not.
func SortedCompact(doc []byte) error {
	inString, escaped := false, false
	for i, c := range doc {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n' || c == '\t' || c == '\r'):
			return fmt.Errorf("whitespace at byte %d: %q", i, around(doc, i))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	return checkSorted(dec, "$")
}

func around(doc []byte, i int) string {
	lo, hi := max(0, i-20), min(len(doc), i+20)
	return string(doc[lo:hi])
}

// checkSorted walks one JSON value from dec, checking object key order.
func checkSorted(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		prev := ""
		first := true
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k := kt.(string)
			if !first && k < prev {
				return fmt.Errorf("keys of %s not sorted: %q after %q", path, k, prev)
			}
			first, prev = false, k
			if err := checkSorted(dec, path+"."+k); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkSorted(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
