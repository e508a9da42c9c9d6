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
)

// Guard decides which addresses deliveries may reach (FM-WH-5): never link-local or cloud
// metadata addresses (nor unspecified, multicast or broadcast ones); private, loopback and
// shared addresses only when AllowPrivate is set. It checks a URL when a destination is saved,
// and again on every connection, so a DNS answer that changes later cannot reach a refused
// address.
type Guard struct {
	AllowPrivate bool
	// LookupIP resolves a host name; nil means the system resolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ErrRefusedAddress wraps every refusal of the guard.
var ErrRefusedAddress = errors.New("refused address")

// metadataAddrs are cloud metadata services outside the link-local ranges.
var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud metadata",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS metadata (IPv6)",
}

// sharedPrefixes are addresses that are not private by Go's definition but not public either.
var sharedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
}

// refusal says why addr may not be reached, or "" when it may.
func (g *Guard) refusal(addr netip.Addr) string {
	addr = addr.Unmap()
	if what, ok := metadataAddrs[addr]; ok {
		return what
	}
	switch {
	case addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata services live there)"
	case addr.IsUnspecified() || addr.IsMulticast() || addr == netip.MustParseAddr("255.255.255.255"):
		return "not a unicast address"
	}
	if g.AllowPrivate {
		return ""
	}
	if addr.IsLoopback() || addr.IsPrivate() {
		return "a private or loopback address (allowed only with serve --allow-private-webhooks)"
	}
	for _, p := range sharedPrefixes {
		if p.Contains(addr) {
			return "a shared, non-public address (allowed only with serve --allow-private-webhooks)"
		}
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
