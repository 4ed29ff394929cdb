package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/medisac/medisac/internal/auth"
)

func TestParseProxies(t *testing.T) {
	p, err := auth.ParseProxies(" 10.0.0.5, 192.168.10.0/24 ,,::1, ::ffff:172.16.0.0/108")
	must(t, err)
	if got := p.String(); got != "10.0.0.5/32,192.168.10.0/24,::1/128,172.16.0.0/12" {
		t.Fatalf("String = %q", got)
	}
	if p, err := auth.ParseProxies(""); err != nil || p.String() != "" {
		t.Fatalf("empty: %q %v", p.String(), err)
	}
	for _, bad := range []string{"10.0.0", "10.0.0.0/33", "proxy.example.jp", "10.0.0.5:80", "*"} {
		if _, err := auth.ParseProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := auth.ParseProxies("10.0.0.0/8, 2001:db8::1")
	must(t, err)
	for _, c := range []struct {
		name    string
		proxies auth.Proxies
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: header ignored", auth.Proxies{}, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer: header ignored", proxies, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, one hop", proxies, "10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries on the left are ignored", proxies, "10.0.0.2:5000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", proxies, "10.0.0.2:5000", []string{"1.2.3.4, 198.51.100.1, 10.9.9.9, 10.0.0.3"}, "198.51.100.1"},
		{"several header lines", proxies, "10.0.0.2:5000", []string{"1.2.3.4", "198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"trusted peer without header", proxies, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"garbage right of the proxies", proxies, "10.0.0.2:5000", []string{"198.51.100.1, evil, 10.0.0.7"}, "10.0.0.7"},
		{"all trusted", proxies, "10.0.0.2:5000", []string{"10.0.0.9"}, "10.0.0.9"},
		{"with port and brackets", proxies, "[2001:db8::1]:443", []string{"[2001:db8::99]:1234"}, "2001:db8::99"},
		{"mapped IPv4 peer", proxies, "[::ffff:10.0.0.2]:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"spoofed trusted entry from an untrusted peer", proxies, "198.51.100.7:1", []string{"10.0.0.1"}, "198.51.100.7"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := c.proxies.Client(r); got != c.want {
			t.Errorf("%s: Client = %q, want %q", c.name, got, c.want)
		}
		r = r.WithContext(auth.WithProxies(r.Context(), c.proxies))
		if got := auth.ClientAddr(r); got != c.want {
			t.Errorf("%s: ClientAddr = %q, want %q", c.name, got, c.want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := auth.ClientAddr(r); got != "10.0.0.2" {
		t.Errorf("without proxies in the context: %q", got)
	}
}
