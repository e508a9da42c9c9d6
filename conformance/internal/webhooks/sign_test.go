package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The expected text is Python's json.dumps(doc, sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) with the integral floats written as integers, as FM-WH-3 asks.
func TestCanonical(t *testing.T) {
	in := `{"b": 1, "a": [1.0, 2.5, -0.0001, 1e-05, 1e+16, 123456789.5, 1.5e+20, 3.14159], "\u00e9": "Jos\u00e9 \u2713 \"q\" \\ \n \u0001 /<>&", "n": null, "t": true, "z": {"y": 2.0, "x": []}}`
	want := `{"a":[1,2.5,-0.0001,1e-05,10000000000000000,123456789.5,150000000000000000000,3.14159],"b":1,"n":null,"t":true,"z":{"x":[],"y":2},"é":"José ✓ \"q\" \\ \n \u0001 /<>&"}`
	got, err := Canonical([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if err := SortedCompact([]byte(want)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"b":1,"a":2}`, `{"a": 1}`, `{"a":{"d":1,"c":2}}`, `[{"a":1},{"z":1,"y":2}]`} {
		if SortedCompact([]byte(bad)) == nil {
			t.Errorf("%s passes", bad)
		}
	}
}

// The Standard Webhooks signature of the specification's own example.
func TestStandardSignature(t *testing.T) {
	got, err := StandardSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if !StandardSignatureMatches("v1,other "+want, want) || StandardSignatureMatches("v1,other", want) {
		t.Fatal("StandardSignatureMatches")
	}
}

func TestSignatures(t *testing.T) {
	m := hmac.New(sha256.New, []byte("whsec_k"))
	m.Write([]byte("1:s:Approved:status.updated"))
	if got, want := SignatureSimple("whsec_k", 1, "s", "Approved", "status.updated"), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("simple: %s, want %s", got, want)
	}
	v2, _ := SignatureV2("whsec_k", []byte(`{"b": 2.0, "a": 1}`))
	if v2 != Signature("whsec_k", []byte(`{"a":1,"b":2}`)) {
		t.Fatal("v2 is not the signature of the canonical body")
	}
}
