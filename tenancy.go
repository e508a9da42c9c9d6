package facematch

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"
)

// Mode is an application's environment: live calls are billed and stored, sandbox calls get a
// fixed answer.
type Mode string

// The two modes of an application.
const (
	ModeLive    Mode = "live"
	ModeSandbox Mode = "sandbox"
)

// Organization holds a credit balance and owns applications.
type Organization struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Credits   int64     `json:"credits"`
	CreatedAt time.Time `json:"created_at"`
}

// Application belongs to an organization; its sessions and destinations are its own.
type Application struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org"`
	Name      string    `json:"name"`
	Mode      Mode      `json:"mode"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey is a key of an application as stored: only a hash of its secret is kept (FM-AUTH-2).
type APIKey struct {
	ID         string
	AppID      string
	SecretHash []byte
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// Caller is who a valid API key speaks for.
type Caller struct {
	KeyID string
	App   Application
}

// NewAPIKey draws a key for an application of the given mode. The full key is shown once;
// only id and the hash of secret are stored.
func NewAPIKey(mode Mode) (id, secret, full string) {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	id, secret = hex.EncodeToString(b[:8]), hex.EncodeToString(b[8:])
	return id, secret, "fm_" + string(mode) + "_" + id + "_" + secret
}

// ParseAPIKey splits a key into its id and secret; ok is false for anything malformed.
func ParseAPIKey(key string) (id, secret string, ok bool) {
	parts := strings.Split(key, "_")
	if len(parts) != 4 || parts[0] != "fm" || (parts[1] != string(ModeLive) && parts[1] != string(ModeSandbox)) ||
		len(parts[2]) != 16 || len(parts[3]) != 64 || !isHex(parts[2]) || !isHex(parts[3]) {
		return "", "", false
	}
	return parts[2], parts[3], true
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// HashSecret is the stored form of a key's secret. The secret is 256 random bits, so a plain
// SHA-256 cannot be brute-forced and needs no salt or stretching.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SecretMatches compares a presented secret with a stored hash in constant time.
func SecretMatches(hash []byte, secret string) bool {
	return subtle.ConstantTimeCompare(hash, HashSecret(secret)) == 1
}
