package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	// Timestamp is the attempt's time, Unix seconds: X-Timestamp and webhook-timestamp.
	Timestamp int64
	// EventTimestamp, SessionID, Status and WebhookType are the body's fields of the same names,
	// which X-Signature-Simple signs.
	EventTimestamp int64
	SessionID      string
	Status         string
	WebhookType    string
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
	simple := strconv.FormatInt(ev.EventTimestamp, 10) + ":" + ev.SessionID + ":" + ev.Status + ":" + ev.WebhookType
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
