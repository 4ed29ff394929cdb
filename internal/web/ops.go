package web

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/mfa"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 503 while the node cannot serve: database unreachable or
// schema behind the binary's migrations.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.Ready != nil {
		if err := s.Ready(r); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

type metricKey struct {
	method, route string
	status        int
}

type metrics struct {
	mu       sync.Mutex
	requests map[metricKey]uint64
	seconds  map[metricKey]float64
	started  time.Time
}

func newMetrics() *metrics {
	return &metrics{requests: map[metricKey]uint64{}, seconds: map[metricKey]float64{}, started: time.Now()}
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	if status == 0 {
		status = 200
	}
	k := metricKey{method, route, status}
	m.mu.Lock()
	m.requests[k]++
	m.seconds[k] += d.Seconds()
	m.mu.Unlock()
}

func promEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// metricsHandler writes Prometheus text format: this node's request counts
// and durations, and whatever the application adds (jobs, sessions).
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	if !s.metricsAllowed(w, r) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := s.metrics
	m.mu.Lock()
	keys := make([]metricKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		if keys[i].method != keys[j].method {
			return keys[i].method < keys[j].method
		}
		return keys[i].status < keys[j].status
	})
	fmt.Fprintln(w, "# HELP medisac_http_requests_total HTTP requests served by this node.")
	fmt.Fprintln(w, "# TYPE medisac_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "medisac_http_requests_total{method=%q,route=\"%s\",status=\"%d\"} %d\n", k.method, promEscape(k.route), k.status, m.requests[k])
	}
	fmt.Fprintln(w, "# HELP medisac_http_request_seconds_total Time spent serving HTTP requests.")
	fmt.Fprintln(w, "# TYPE medisac_http_request_seconds_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "medisac_http_request_seconds_total{method=%q,route=\"%s\",status=\"%d\"} %g\n", k.method, promEscape(k.route), k.status, m.seconds[k])
	}
	fmt.Fprintln(w, "# HELP medisac_uptime_seconds Seconds since this node started.")
	fmt.Fprintln(w, "# TYPE medisac_uptime_seconds gauge")
	fmt.Fprintf(w, "medisac_uptime_seconds %g\n", time.Since(m.started).Seconds())
	m.mu.Unlock()
	if s.Metrics != nil {
		s.Metrics(w, r)
	}
}

// metricsAllowed lets a scraper read /metrics from this machine (a
// loopback client address, not relayed by a proxy that is not trusted) or,
// when MEDISAC_METRICS_TOKEN is set, from anywhere with that bearer token.
// Anyone else gets 404, as if there were no such page, or 401 for a wrong
// token.
func (s *Server) metricsAllowed(w http.ResponseWriter, r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" && s.MetricsToken != "" {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
		if strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.MetricsToken)) == 1 {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="medisac metrics"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return false
	}
	client := clientIP(r)
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(client); err == nil && a.Unmap().IsLoopback() && (!auth.Forwarded(r) || client != peer) {
		return true
	}
	s.renderError(w, r, apperr.New(apperr.NotFound, "error.not_found"))
	return false
}

// passkeyScript serves the passkey ceremony script that ships with the mfa
// package, so there is one copy of it.
func (s *Server) passkeyScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(mfa.PasskeyJS)
}
