package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For medisac believes
// (MEDISAC_TRUSTED_PROXIES). The zero value trusts none.
type Proxies struct {
	nets []netip.Prefix
}

// ParseProxies reads a comma-separated list of addresses and CIDR ranges
// ("10.0.0.5, 192.168.10.0/24, ::1"). An empty list trusts no proxy.
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			pre, err := netip.ParsePrefix(f)
			if err != nil {
				return Proxies{}, fmt.Errorf("%q is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/24)", f)
			}
			if pre.Addr().Is4In6() {
				pre = netip.PrefixFrom(pre.Addr().Unmap(), pre.Bits()-96)
			}
			p.nets = append(p.nets, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return Proxies{}, fmt.Errorf("%q is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/24)", f)
		}
		a = a.Unmap()
		p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

// String lists the trusted ranges, comma-separated.
func (p Proxies) String() string {
	s := make([]string, len(p.nets))
	for i, n := range p.nets {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the address of the client behind r. It is the TCP peer,
// unless the peer is a trusted proxy: then it is the rightmost address of
// X-Forwarded-For that is not itself a trusted proxy (the addresses to the
// left of it were written by the client and prove nothing). Without trusted
// proxies the header is never read.
func (p Proxies) Client(r *http.Request) string {
	peer := peerAddr(r.RemoteAddr)
	pa, err := netip.ParseAddr(peer)
	if err != nil || len(p.nets) == 0 || !p.trusts(pa) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := pa.Unmap().String()
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// Not an address: written by whoever the last trusted hop
			// heard from, which is the client itself.
			break
		}
		client = a.String()
		if !p.trusts(a) {
			break
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port, IPv6 possibly in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func peerAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

type proxiesKey struct{}

// WithProxies returns ctx carrying the node's trusted proxies, for
// ClientAddr below it.
func WithProxies(ctx context.Context, p Proxies) context.Context {
	return context.WithValue(ctx, proxiesKey{}, p)
}

// ClientAddr is the one answer to "who sent this request" for rate limits,
// sign-in throttling, sessions and the audit log: Proxies.Client with the
// trusted proxies of the request's context (none: the TCP peer).
func ClientAddr(r *http.Request) string {
	p, _ := r.Context().Value(proxiesKey{}).(Proxies)
	return p.Client(r)
}

// Forwarded reports whether r carries a header that a reverse proxy adds,
// so that a loopback peer may be a proxy in front of remote clients.
func Forwarded(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}
