package conformance

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The embedded openapi.yaml must be no stricter than the contract (../shared/spec/face-match.md)
// where the contract is silent: another team's faithful server, which made other choices there,
// must pass it. Each case is an answer such a server may give, which our server does not give;
// our own choices live in x-facematch-* extensions, which the suite reports as notes.

func contract(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := LoadContract()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func schema(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	return ref.Value
}

// example is a components example, as decoded JSON.
func example(t *testing.T, doc *openapi3.T, name string) map[string]any {
	t.Helper()
	ex := doc.Components.Examples[name]
	if ex == nil || ex.Value == nil {
		t.Fatalf("openapi.yaml has no example %s", name)
	}
	b, err := json.Marshal(ex.Value.Value)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestContractDecisionNeedsNoFeatureArraysByName(t *testing.T) {
	doc := contract(t)
	s := schema(t, doc, "SessionDecision")
	d := example(t, doc, "SessionDecision")
	if err := s.VisitJSON(d); err != nil {
		t.Fatalf("our own example does not validate: %v", err)
	}
	always, _ := s.Extensions["x-facematch-always-present"].([]any)
	if len(always) != 10 {
		t.Fatalf("x-facematch-always-present lists %d feature arrays, want the ten our server writes", len(always))
	}
	for _, f := range always {
		delete(d, f.(string))
	}
	if err := s.VisitJSON(d); err != nil {
		t.Errorf("a decision without the null feature arrays (FM-SES-2 names none of them as required) fails the schema: %v", err)
	}
	delete(d, "face_matches")
	if s.VisitJSON(d) == nil {
		t.Error("a decision without face_matches, which FM-SES-2 requires, passes the schema")
	}
}

func TestContractImageURLsMayUseAnyScheme(t *testing.T) {
	doc := contract(t)
	s := schema(t, doc, "SessionDecision")
	d := example(t, doc, "SessionDecision")
	fm := d["face_matches"].([]any)[0].(map[string]any)
	fm["source_image"] = "https://images.example.com/v/8c1f0a/ref.jpg?token=eyJhbGciOi"
	fm["target_image"] = "https://images.example.com/v/8c1f0a/user?sig=Zm9v&until=2026-06-12T02:04:42Z"
	if err := s.VisitJSON(d); err != nil {
		t.Errorf("signed image URLs of another scheme (FM-SES-2 names none) fail the schema: %v", err)
	}
}

func TestContractSecretIsAnyBase64AfterWhsec(t *testing.T) {
	doc := contract(t)
	s := schema(t, doc, "SecretSharedKey")
	for _, n := range []int{16, 24, 32, 64} {
		secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
		if err := s.VisitJSON(secret); err != nil {
			t.Errorf("a secret of %d bytes (FM-WH-1 says whsec_..., FM-WH-6 base64) fails the schema: %v", n, err)
		}
	}
	for _, bad := range []string{"sk_" + base64.StdEncoding.EncodeToString([]byte("0123456789")), "whsec_", "whsec_not base64!"} {
		if s.VisitJSON(bad) == nil {
			t.Errorf("%q passes the schema: FM-WH-1 and FM-WH-6 want whsec_ and base64", bad)
		}
	}
	if _, ok := s.Extensions["x-facematch-pattern"]; !ok {
		t.Error("our 32-byte choice is not kept in x-facematch-pattern")
	}
}

func TestContractWebhookIDIsAnyDeliveryID(t *testing.T) {
	doc := contract(t)
	var id *openapi3.Parameter
	for _, cb := range doc.Paths.Find("/v3/webhook/destinations/").Post.Callbacks {
		for _, item := range cb.Value.Map() {
			for _, p := range item.Post.Parameters {
				if p.Value.Name == "X-Webhook-Id" {
					id = p.Value
				}
			}
		}
	}
	if id == nil {
		t.Fatal("openapi.yaml describes no X-Webhook-Id header")
	}
	for _, v := range []string{"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "dlv-42", "0b6f1f0e-9c55-4a8e-8f3b-7f2f6b1d2c44"} {
		if err := id.Schema.Value.VisitJSON(v); err != nil {
			t.Errorf("X-Webhook-Id %q (FM-WH-3 says a delivery id, not a UUID) fails the schema: %v", v, err)
		}
	}
	if id.Schema.Value.VisitJSON("") == nil {
		t.Error("an empty X-Webhook-Id passes the schema")
	}
}

func TestContractDestinationListOrderIsOpen(t *testing.T) {
	doc := contract(t)
	op := doc.Paths.Find("/v3/webhook/destinations/").Get
	if _, ok := op.Extensions["x-facematch-order"]; !ok {
		t.Error("the list's order (FM-WH-1 is silent on it) is not marked as our choice with x-facematch-order")
	}
}
