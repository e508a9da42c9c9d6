package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"code.dny.dev/ssrf"
)

// Guard decides which addresses deliveries may reach (FM-WH-5). It denies by default: only
// globally routable unicast addresses pass, as IANA's special-purpose address registries for
// IPv4 and IPv6 decide (through code.dny.dev/ssrf's generated tables of them). Link-local and
// cloud metadata addresses are always refused; private, loopback and shared addresses only when
// AllowPrivate is set. An IPv6 address that embeds an IPv4 address (IPv4-mapped,
// IPv4-compatible, NAT64, 6to4, Teredo) is judged by the IPv4 address it embeds. The guard
// checks a URL when a destination is saved, and again on every connection, so a DNS answer that
// changes later cannot reach a refused address.
type Guard struct {
	AllowPrivate bool
	// LookupIP resolves a host name; nil means the system resolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ErrRefusedAddress wraps every refusal of the guard.
var ErrRefusedAddress = errors.New("refused address")

// metadataAddrs are cloud metadata services outside the link-local ranges: refused even when
// private addresses are allowed.
var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud metadata",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS metadata (IPv6)",
}

// privatePrefixes are the special-purpose ranges an operator may allow for development and
// tests: private use (RFC 1918, RFC 4193), loopback, and the shared and benchmarking ranges.
var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
}

// The IPv6 prefixes that embed an IPv4 address (IANA IPv6 special-purpose registry).
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")        // RFC 4291, deprecated
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052, well-known prefix
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056
	teredo         = netip.MustParsePrefix("2001::/32")    // RFC 4380
)

// registry judges addresses by IANA's special-purpose registries: every prefix of the IPv4
// registry is denied, and of IPv6 everything outside global unicast (2000::/3) and the registry's
// prefixes inside it. Ports and networks are the dialer's business, not the registry's.
var registry = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// embeddedIPv4 returns the IPv4 addresses an IPv6 address embeds, with the name of the way it
// embeds them; ok is false for an address that embeds none.
func embeddedIPv4(a netip.Addr) (v4 []netip.Addr, how string, ok bool) {
	if !a.Is6() || a.Is4In6() {
		return nil, "", false
	}
	b := a.As16()
	last := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case nat64.Contains(a):
		return []netip.Addr{last}, "a NAT64 address", true
	case ipv4Compatible.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		return []netip.Addr{last}, "an IPv4-compatible address", true
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}, "a 6to4 address", true
	case teredo.Contains(a):
		server := netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]})
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []netip.Addr{server, client}, "a Teredo address", true
	}
	return nil, "", false
}

// refusal says why addr may not be reached, or "" when it may.
func (g *Guard) refusal(addr netip.Addr) string {
	addr = addr.Unmap() // an IPv4-mapped address is the IPv4 address it maps
	if v4s, how, ok := embeddedIPv4(addr); ok {
		for _, v4 := range v4s {
			if why := g.refusal(v4); why != "" {
				return fmt.Sprintf("%s embedding %s, %s", how, v4, why)
			}
		}
		if how == "a NAT64 address" {
			return "" // the well-known NAT64 prefix is globally reachable: the IPv4 address decides
		}
		return how + ", not a globally routable unicast address (IANA special-purpose registry)"
	}
	if what, ok := metadataAddrs[addr]; ok {
		return what
	}
	switch {
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata services live there)"
	case addr.IsUnspecified() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "not a unicast address"
	}
	for _, p := range privatePrefixes {
		if p.Contains(addr) {
			if g.AllowPrivate {
				return ""
			}
			return "a private, loopback or shared address (allowed only with serve --allow-private-webhooks)"
		}
	}
	if registry.SafeAddr(addr) != nil {
		return "not a globally routable unicast address (IANA special-purpose registry)"
	}
	return ""
}

func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	if g.LookupIP != nil {
		return g.LookupIP(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckURL validates a destination URL: an absolute http or https URL whose host resolves only
// to addresses the guard allows.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("Enter a valid URL: an absolute http or https URL.")
	}
	if u.User != nil {
		return errors.New("URLs with credentials are not accepted.")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := g.lookup(ctx, u.Hostname())
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("The host %q could not be resolved.", u.Hostname())
	}
	for _, a := range addrs {
		if why := g.refusal(a); why != "" {
			return fmt.Errorf("%w: %s resolves to %s, %s.", ErrRefusedAddress, u.Hostname(), a, why)
		}
	}
	return nil
}

// DialContext connects only to allowed addresses: it resolves the host itself and dials the
// first allowed address, so the check and the connection use the same answer.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var lastErr error = fmt.Errorf("%s has no address", host)
	for _, a := range addrs {
		if why := g.refusal(a); why != "" {
			lastErr = fmt.Errorf("%w: %s resolves to %s, %s", ErrRefusedAddress, host, a, why)
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, lastErr
}
