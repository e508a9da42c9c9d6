package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// [FM-WH-3] The canonical form: sorted keys, compact, integral floats as integers, non-ASCII as
// it is, control characters escaped.
func TestCanonical(t *testing.T) {
	cases := map[string]string{
		`{"b": 1, "a": {"d": [1.0, 2.50, 1e2], "c": null}}`:   `{"a":{"c":null,"d":[1,2.5,100]},"b":1}`,
		`{"name": "Zoë \u00e9 日本", "x": "a\"b\\c\n\t\u0001"}`: `{"name":"Zoë é 日本","x":"a\"b\\c\n\t\u0001"}`,
		`[true, false, -0.0, 87.35, 12345678901234567]`:       `[true,false,0,87.35,12345678901234567]`,
		`{"html": "<a href='x'>&</a>"}`:                       `{"html":"<a href='x'>&</a>"}`,
	}
	for in, want := range cases {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a":1} {"b":2}`, ``} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%q) accepted", bad)
		}
	}
}

// [FM-WH-5] The guard denies by default, by IANA's special-purpose registries, each family
// tested: link-local and metadata addresses always refused; private and loopback ones unless
// allowed; IPv6 addresses embedding IPv4 judged by it; only http(s) URLs.
func TestGuardAddresses(t *testing.T) {
	strict, loose := &Guard{}, &Guard{AllowPrivate: true}
	cases := []struct {
		addr          string
		strict, loose bool // allowed?
	}{
		{"93.184.216.34", true, true},
		{"2606:2800:220:1:248:1893:25c8:1946", true, true},
		{"169.254.169.254", false, false},
		{"169.254.0.1", false, false},
		{"fe80::1", false, false},
		{"fd00:ec2::254", false, false},
		{"100.100.100.200", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"172.17.0.1", false, true},
		{"192.168.1.1", false, true},
		{"fc00::1", false, true},
		{"100.64.0.1", false, true},
		{"::ffff:169.254.169.254", false, false},
		// IPv4, by IANA's IPv4 special-purpose registry: deny by default.
		{"8.8.8.8", true, true},
		{"192.0.2.1", false, false},    // documentation (TEST-NET-1)
		{"198.51.100.7", false, false}, // documentation (TEST-NET-2)
		{"203.0.113.9", false, false},  // documentation (TEST-NET-3)
		{"192.0.0.8", false, false},    // IETF protocol assignments
		{"192.88.99.1", false, false},  // 6to4 relay anycast, deprecated
		{"240.0.0.1", false, false},    // reserved
		{"255.255.255.255", false, false},
		{"0.1.2.3", false, false},   // "this network"
		{"198.18.0.1", false, true}, // benchmarking
		// IPv6, by IANA's IPv6 special-purpose registry: only global unicast outside it.
		{"2a00:1450:4001:80b::200e", true, true},
		{"2001:db8::1", false, false}, // documentation
		{"3fff::1", false, false},     // documentation
		{"2001:2::1", false, false},   // benchmarking
		{"100::1", false, false},      // discard-only
		{"ff02::1", false, false},     // multicast
		{"::", false, false},
		{"5f00::1", false, false}, // SRv6 SIDs, outside global unicast
		// Embedded IPv4: judged by the IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4,
		// Teredo).
		{"::ffff:8.8.8.8", true, true},
		{"::ffff:127.0.0.1", false, true},
		{"::ffff:10.0.0.1", false, true},
		{"::a9fe:a9fe", false, false}, // IPv4-compatible 169.254.169.254
		{"::808:808", false, false},   // IPv4-compatible 8.8.8.8: deprecated, not routable
		{"64:ff9b::a9fe:a9fe", false, false},
		{"64:ff9b::169.254.169.254", false, false},
		{"64:ff9b::6464:64c8", false, false}, // 100.100.100.200, Alibaba metadata
		{"64:ff9b::7f00:1", false, true},
		{"64:ff9b::a00:1", false, true},
		{"64:ff9b::808:808", true, true},
		{"2002:a9fe:a9fe::", false, false},
		{"2002:a9fe:a9fe:1::1", false, false},
		{"2002:7f00:1::1", false, false}, // 6to4 of 127.0.0.1: loopback inside, but 6to4 is not routable
		{"2002:808:808::1", false, false},
		{"2001:0:4136:e378:8000:63bf:5601:5601", false, false}, // Teredo: server 65.54.227.120, client 169.254.169.254
		{"2001:0:a9fe:a9fe::1", false, false},                  // Teredo, server 169.254.169.254
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		if got := strict.refusal(a) == ""; got != c.strict {
			t.Errorf("strict guard, %s: allowed %v", c.addr, got)
		}
		if got := loose.refusal(a) == ""; got != c.loose {
			t.Errorf("allowing guard, %s: allowed %v", c.addr, got)
		}
	}
	why := loose.refusal(netip.MustParseAddr("64:ff9b::a9fe:a9fe"))
	if !strings.Contains(why, "NAT64") || !strings.Contains(why, "169.254.169.254") || !strings.Contains(why, "link-local") {
		t.Errorf("NAT64 refusal says %q, want the embedded address and why", why)
	}
	for _, u := range []string{"ftp://example.com/", "example.com/hook", "http://", "http://user:pw@example.com/", "javascript:alert(1)"} {
		if err := loose.CheckURL(context.Background(), u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if err := strict.CheckURL(context.Background(), "http://169.254.169.254/latest/meta-data/"); !errors.Is(err, ErrRefusedAddress) {
		t.Errorf("metadata URL: %v", err)
	}
	if err := loose.CheckURL(context.Background(), "http://[::1]:8080/hook"); err != nil {
		t.Errorf("loopback with --allow-private-webhooks: %v", err)
	}
}

// [FM-WH-5] A host whose DNS answer changes after the destination was checked cannot reach a
// refused address: the guard resolves again when it connects.
func TestGuardRebinding(t *testing.T) {
	var calls atomic.Int32
	g := &Guard{LookupIP: func(ctx context.Context, host string) ([]netip.Addr, error) {
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	}}
	if err := g.CheckURL(context.Background(), "http://rebind.example/hook"); err != nil {
		t.Fatalf("checked while public: %v", err)
	}
	conn, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("rebind.example", "80"))
	if conn != nil {
		conn.Close()
	}
	if !errors.Is(err, ErrRefusedAddress) || !strings.Contains(err.Error(), "169.254.169.254") {
		t.Fatalf("dial after rebinding: %v", err)
	}
}

func TestParseBackoff(t *testing.T) {
	b, err := ParseBackoff("1m, 4m,16m,64m")
	if err != nil || len(b) != 4 || b[3].Minutes() != 64 {
		t.Fatalf("%v %v", b, err)
	}
	for _, bad := range []string{"", "1m,,2m", "soon", "-1s"} {
		if _, err := ParseBackoff(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// [FM-WH-3] Each attempt renders the queued body again with its own time: the body's
// timestamp, X-Timestamp and webhook-timestamp are one value, the webhook id stays, the body
// stays canonical, and X-Signature-Simple is built from that timestamp.
func TestSignAttemptRestampsEachAttempt(t *testing.T) {
	secret := NewSecret()
	queued := []byte(`{"created_at":1781226282,"metadata":{"n":1.0},"session_id":"s-1","status":"Approved","timestamp":1781226282,"webhook_type":"status.updated"}`)
	var firstBody []byte
	for i, at := range []time.Time{time.Unix(1781226282, 0), time.Unix(1781226342, 900e6), time.Unix(1781230000, 0)} {
		body, h, err := SignAttempt(secret, "wh-1", queued, at)
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(at.Unix(), 10)
		canonical, _ := Canonical(body)
		var fields map[string]any
		json.Unmarshal(body, &fields)
		switch {
		case !bytes.Equal(body, canonical):
			t.Fatalf("attempt %d: body not canonical: %s", i, body)
		case fmt.Sprint(int64(fields["timestamp"].(float64))) != ts || h.Get("X-Timestamp") != ts || h.Get("webhook-timestamp") != ts:
			t.Fatalf("attempt %d at %s: body %v, X-Timestamp %s, webhook-timestamp %s", i, ts, fields["timestamp"], h.Get("X-Timestamp"), h.Get("webhook-timestamp"))
		case h.Get("X-Webhook-Id") != "wh-1" || h.Get("webhook-id") != "wh-1":
			t.Fatalf("attempt %d: ids %v", i, h)
		case fields["created_at"].(float64) != 1781226282:
			t.Fatalf("attempt %d: created_at changed: %s", i, body)
		case h.Get("X-Signature-Simple") != hmacHex([]byte(secret), []byte(ts+":s-1:Approved:status.updated")):
			t.Fatalf("attempt %d: X-Signature-Simple is not over the attempt's timestamp", i)
		case h.Get("X-Signature") != hmacHex([]byte(secret), body):
			t.Fatalf("attempt %d: X-Signature is not over the sent body", i)
		}
		if i == 0 {
			firstBody = body
		} else if bytes.Equal(body, firstBody) {
			t.Fatalf("attempt %d sent the first attempt's body", i)
		}
	}
	if _, _, err := SignAttempt(secret, "wh-1", []byte(`[1]`), time.Now()); err == nil {
		t.Fatal("a body that is not an object was signed")
	}
}
