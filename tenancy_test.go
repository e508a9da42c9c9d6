package facematch

import (
	"strings"
	"testing"
)

// [FM-AUTH-1] [FM-AUTH-2] Key parsing accepts exactly the shape NewAPIKey makes and nothing else;
// only a hash of the secret is kept, and it matches only its own secret.
func TestParseAPIKey(t *testing.T) {
	id, secret, full := NewAPIKey(ModeLive)
	if gotID, gotSecret, ok := ParseAPIKey(full); !ok || gotID != id || gotSecret != secret {
		t.Fatalf("ParseAPIKey(%q) = %q, %q, %v", full, gotID, gotSecret, ok)
	}
	_, _, sandbox := NewAPIKey(ModeSandbox)
	if _, _, ok := ParseAPIKey(sandbox); !ok || !strings.HasPrefix(sandbox, "fm_sandbox_") {
		t.Fatalf("sandbox key %q", sandbox)
	}
	hex16, hex64 := strings.Repeat("a", 16), strings.Repeat("b", 64)
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"fm_live_" + hex16 + "_" + hex64, true},
		{"fm_sandbox_" + hex16 + "_" + hex64, true},
		{"", false},
		{"fm_test_" + hex16 + "_" + hex64, false},
		{"fm_live_" + hex16[:15] + "_" + hex64, false},
		{"fm_live_" + hex16 + "_" + hex64[:63], false},
		{"fm_live_" + hex16 + "_" + hex64 + "0", false},
		{"fm_live_" + strings.ToUpper(hex16) + "_" + hex64, false},
		{"fm_live_" + "g" + hex16[1:] + "_" + hex64, false},
		{"FM_live_" + hex16 + "_" + hex64, false},
		{"fm_live_" + hex16 + "_" + hex64 + "_x", false},
		{"fm_live_" + hex16 + hex64, false},
		{" fm_live_" + hex16 + "_" + hex64, false},
		{"fm_live__" + hex16 + "_" + hex64, false},
	} {
		if _, _, ok := ParseAPIKey(c.key); ok != c.ok {
			t.Errorf("ParseAPIKey(%q) ok = %v, want %v", c.key, ok, c.ok)
		}
	}
	h := HashSecret(secret)
	other := secret[:63] + map[bool]string{true: "1", false: "0"}[secret[63] == '0']
	if string(h) == secret || !SecretMatches(h, secret) || SecretMatches(h, other) || SecretMatches(h, "") {
		t.Fatal("a stored hash matches a secret other than its own")
	}
	if _, _, other := NewAPIKey(ModeLive); other == full {
		t.Fatal("two keys alike")
	}
}
