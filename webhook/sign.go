package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every destination secret.
const SecretPrefix = "whsec_"

// NewSecret draws a destination secret: "whsec_" and the base64 of 32 random bytes.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Event is what the signatures of a delivery cover besides its body.
type Event struct {
	WebhookID string
	// Timestamp is the attempt's time, Unix seconds: X-Timestamp, webhook-timestamp and the
	// body's timestamp, one value (FM-WH-3).
	Timestamp int64
	// SessionID, Status and WebhookType are the body's fields of the same names, which
	// X-Signature-Simple signs with Timestamp.
	SessionID   string
	Status      string
	WebhookType string
}

func hmacHex(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// SignatureHeaders are the headers of one delivery attempt (FM-WH-3, FM-WH-6). body must be
// the canonical JSON the dispatcher sends, so X-Signature and X-Signature-V2 agree.
func SignatureHeaders(secret string, body []byte, ev Event) (http.Header, error) {
	canonical, err := Canonical(body)
	if err != nil {
		return nil, err
	}
	key := []byte(secret)
	ts := strconv.FormatInt(ev.Timestamp, 10)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "facematch-webhooks/3")
	h.Set("X-Timestamp", ts)
	h.Set("X-Signature", hmacHex(key, body))
	h.Set("X-Signature-V2", hmacHex(key, canonical))
	simple := ts + ":" + ev.SessionID + ":" + ev.Status + ":" + ev.WebhookType
	h.Set("X-Signature-Simple", hmacHex(key, []byte(simple)))
	h.Set("X-Webhook-Id", ev.WebhookID)
	std, err := standardSignature(secret, ev.WebhookID, ts, body)
	if err != nil {
		return nil, err
	}
	h.Set("webhook-id", ev.WebhookID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", std)
	return h, nil
}

// SignAttempt renders a queued body for one delivery attempt made at time at (FM-WH-3): the
// body's timestamp becomes the attempt's time, the body is written again as canonical JSON, and
// the headers sign that body, so that the body's timestamp, X-Timestamp and webhook-timestamp
// are one value on every attempt while the webhook id stays the same. A receiver that checks
// freshness, or builds X-Signature-Simple from the header, accepts a retry as it accepts the
// first attempt.
func SignAttempt(secret, webhookID string, queued []byte, at time.Time) ([]byte, http.Header, error) {
	dec := json.NewDecoder(bytes.NewReader(queued))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, nil, fmt.Errorf("queued body is not a JSON object: %v", err)
	}
	ts := at.Unix()
	fields["timestamp"] = json.Number(strconv.FormatInt(ts, 10))
	var buf bytes.Buffer
	if err := writeCanonical(&buf, fields); err != nil {
		return nil, nil, err
	}
	text := func(k string) string { v, _ := fields[k].(string); return v }
	h, err := SignatureHeaders(secret, buf.Bytes(), Event{
		WebhookID: webhookID, Timestamp: ts,
		SessionID: text("session_id"), Status: text("status"), WebhookType: text("webhook_type"),
	})
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), h, nil
}

// standardSignature is the Standard Webhooks signature: "v1," and the base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}", keyed with the base64-decoded part of the secret after "whsec_".
func standardSignature(secret, id, ts string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return "", fmt.Errorf("destination secret is not whsec_ and base64: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
