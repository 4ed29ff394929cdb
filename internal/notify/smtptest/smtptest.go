// Package smtptest runs a real SMTP server inside tests: it listens on
// 127.0.0.1, speaks EHLO, STARTTLS (with a self-signed certificate made at
// start), AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, and
// records every message it accepts with its subject and body decoded.
//
// Any package's tests may use it, e.g. to read a link out of an invitation:
//
//	srv := smtptest.Start(t)
//	cfg := &notify.SMTPConfig{Host: srv.Host(), Port: srv.Port(),
//		Security: notify.SecuritySTARTTLS, RootCAs: srv.RootCAs(),
//		From: "medisac <noreply@isac.example.jp>"}
//	...
//	msg := srv.WaitFor(t, "taro@clinic.example.jp", 10*time.Second)
//	// msg.Subject, msg.Body are decoded text.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Subject  string   // decoded Subject header
	Body     string   // decoded text, with "\n" line endings
	Header   mail.Header
	Raw      string // the message as received, CRLF line endings
	TLS      bool   // the message came over an encrypted connection
	AuthUser string // the user who authenticated, "" without AUTH
}

// Option changes how Start configures the server.
type Option func(*Server)

// WithAuth requires AUTH (PLAIN or LOGIN) with user and pass before MAIL.
// Like real servers, it offers AUTH only on encrypted connections.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// AuthMechanisms sets the AUTH mechanisms offered (default PLAIN and
// LOGIN); others are refused with 504.
func AuthMechanisms(mechs ...string) Option {
	return func(s *Server) { s.mechs = mechs }
}

// ImplicitTLS makes the server speak TLS from the first byte (port 465
// style) instead of offering STARTTLS.
func ImplicitTLS() Option { return func(s *Server) { s.implicitTLS = true } }

// WithoutSTARTTLS makes the server not offer STARTTLS, as a server (or an
// attacker in between) that only speaks in clear would.
func WithoutSTARTTLS() Option { return func(s *Server) { s.noSTARTTLS = true } }

// RejectRecipient makes the server refuse RCPT TO addr with 550.
func RejectRecipient(addr string) Option {
	return func(s *Server) { s.reject[strings.ToLower(addr)] = true }
}

// Server is a running test SMTP server. Its methods are safe for concurrent
// use.
type Server struct {
	user, pass  string
	implicitTLS bool
	noSTARTTLS  bool
	reject      map[string]bool
	mechs       []string

	addr    string
	tlsConf *tls.Config
	pool    *x509.CertPool

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	msgs     []Message
	taken    map[int]bool
	arrived  chan struct{}
	wg       sync.WaitGroup
	closed   bool
	logf     func(string, ...any)
	commands []string
}

// Start starts a server on 127.0.0.1 at a free port; it stops when t ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		reject:  map[string]bool{},
		mechs:   []string{"PLAIN", "LOGIN"},
		conns:   map[net.Conn]struct{}{},
		taken:   map[int]bool{},
		arrived: make(chan struct{}),
		logf:    t.Logf,
	}
	for _, o := range opts {
		o(s)
	}
	cert, pool, err := selfSigned()
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	s.pool = pool
	s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Host returns the server's IP address, "127.0.0.1".
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port returns the server's port.
func (s *Server) Port() int { return s.tcpAddr().Port }

func (s *Server) tcpAddr() *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", s.addr)
	return a
}

// RootCAs returns a pool holding the server's certificate, for clients that
// verify it (the certificate names 127.0.0.1 and localhost).
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// Messages returns every accepted message so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Commands returns the SMTP command verbs the server received so far, in
// order (e.g. "EHLO", "STARTTLS", "AUTH"), for tests of the client side.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// WaitFor returns the oldest message to recipient to that no earlier
// WaitFor returned, waiting up to timeout for it; it fails t on timeout.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i, m := range s.msgs {
			if s.taken[i] {
				continue
			}
			for _, r := range m.To {
				if strings.EqualFold(r, to) {
					s.taken[i] = true
					s.mu.Unlock()
					return m
				}
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("smtptest: no message to %s within %v (%d messages received)", to, timeout, len(s.Messages()))
			return Message{}
		}
	}
}

// Down makes the server unreachable, as a stopped server is: it closes the
// listener and every open connection. Up brings it back on the same port.
func (s *Server) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
}

// Up listens again on the server's address after Down; it fails t when the
// port has been taken meanwhile.
func (s *Server) Up(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	up := s.ln != nil
	s.mu.Unlock()
	if up {
		return
	}
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtptest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Close stops the server and waits for its connections to end.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Down()
	s.wg.Wait()
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				s.session(c)
			}()
		}
	}()
}

type session struct {
	s        *Server
	conn     net.Conn
	tp       *textproto.Conn
	tls      bool
	helo     bool
	authUser string
	from     string
	to       []string
	inMail   bool
}

func (s *Server) session(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	ss := &session{s: s, conn: c}
	if s.implicitTLS {
		tc := tls.Server(c, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			return
		}
		ss.conn, ss.tls = tc, true
	}
	ss.tp = textproto.NewConn(ss.conn)
	ss.reply(220, "smtptest ESMTP ready")
	for {
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.mu.Lock()
		s.commands = append(s.commands, verb)
		s.mu.Unlock()
		if !ss.handle(verb, strings.TrimSpace(arg)) {
			return
		}
	}
}

func (ss *session) reply(code int, lines ...string) {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		_ = ss.tp.PrintfLine("%d%s%s", code, sep, l)
	}
}

func (ss *session) resetMail() { ss.from, ss.to, ss.inMail = "", nil, false }

// handle answers one command; false ends the session.
func (ss *session) handle(verb, arg string) bool {
	s := ss.s
	switch verb {
	case "EHLO", "HELO":
		ss.helo = true
		ss.resetMail()
		lines := []string{"smtptest greets " + arg, "8BITMIME", "SIZE 10485760"}
		if !ss.tls && !s.noSTARTTLS {
			lines = append(lines, "STARTTLS")
		}
		if ss.tls && s.user != "" {
			lines = append(lines, "AUTH "+strings.Join(s.mechs, " "))
		}
		ss.reply(250, lines...)
	case "STARTTLS":
		if ss.tls || s.noSTARTTLS {
			ss.reply(502, "5.5.1 STARTTLS not available")
			return true
		}
		ss.reply(220, "2.0.0 Ready to start TLS")
		tc := tls.Server(ss.conn, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.tls, ss.helo = tc, true, false
		ss.tp = textproto.NewConn(tc)
		ss.resetMail()
	case "AUTH":
		ss.auth(arg)
	case "MAIL":
		switch {
		case !ss.helo:
			ss.reply(503, "5.5.1 Send EHLO first")
		case s.user != "" && ss.authUser == "":
			ss.reply(530, "5.7.0 Authentication required")
		case !strings.HasPrefix(strings.ToUpper(arg), "FROM:"):
			ss.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
		default:
			ss.from, ss.inMail = pathArg(arg[5:]), true
			ss.reply(250, "2.1.0 OK")
		}
	case "RCPT":
		switch {
		case !ss.inMail:
			ss.reply(503, "5.5.1 MAIL first")
		case !strings.HasPrefix(strings.ToUpper(arg), "TO:"):
			ss.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
		case s.reject[strings.ToLower(pathArg(arg[3:]))]:
			ss.reply(550, "5.1.1 No such user here")
		default:
			ss.to = append(ss.to, pathArg(arg[3:]))
			ss.reply(250, "2.1.5 OK")
		}
	case "DATA":
		if len(ss.to) == 0 {
			ss.reply(503, "5.5.1 RCPT first")
			return true
		}
		ss.reply(354, "End data with <CR><LF>.<CR><LF>")
		data, err := ss.tp.ReadDotBytes()
		if err != nil {
			return false
		}
		raw := strings.ReplaceAll(string(data), "\n", "\r\n")
		m, err := Parse([]byte(raw))
		if err != nil {
			s.logf("smtptest: message does not parse: %v", err)
		}
		m.From, m.To, m.TLS, m.AuthUser = ss.from, ss.to, ss.tls, ss.authUser
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		close(s.arrived)
		s.arrived = make(chan struct{})
		s.mu.Unlock()
		ss.resetMail()
		ss.reply(250, "2.0.0 OK queued")
	case "RSET":
		ss.resetMail()
		ss.reply(250, "2.0.0 OK")
	case "NOOP":
		ss.reply(250, "2.0.0 OK")
	case "QUIT":
		ss.reply(221, "2.0.0 Bye")
		return false
	default:
		ss.reply(502, "5.5.2 Command not implemented")
	}
	return true
}

func (ss *session) auth(arg string) {
	s := ss.s
	if !ss.tls || s.user == "" {
		ss.reply(503, "5.5.1 AUTH not available")
		return
	}
	if ss.authUser != "" {
		ss.reply(503, "5.5.1 Already authenticated")
		return
	}
	mech, initial, _ := strings.Cut(arg, " ")
	read := func(prompt string) (string, bool) {
		ss.reply(334, prompt)
		l, err := ss.tp.ReadLine()
		if err != nil || l == "*" {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(l)
		return string(b), err == nil
	}
	var user, pass string
	mech = strings.ToUpper(mech)
	if !slices.Contains(s.mechs, mech) {
		mech = ""
	}
	switch mech {
	case "PLAIN":
		var resp string
		ok := true
		if initial == "" {
			resp, ok = read("")
		} else {
			b, err := base64.StdEncoding.DecodeString(initial)
			resp, ok = string(b), err == nil
		}
		parts := strings.Split(resp, "\x00")
		if !ok || len(parts) != 3 {
			ss.reply(501, "5.5.2 Bad AUTH PLAIN response")
			return
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		var ok1, ok2 bool
		user, ok1 = read(base64.StdEncoding.EncodeToString([]byte("Username:")))
		if ok1 {
			pass, ok2 = read(base64.StdEncoding.EncodeToString([]byte("Password:")))
		}
		if !ok1 || !ok2 {
			ss.reply(501, "5.5.2 Bad AUTH LOGIN response")
			return
		}
	default:
		ss.reply(504, "5.5.4 Unrecognized authentication type")
		return
	}
	if user != s.user || pass != s.pass {
		ss.reply(535, "5.7.8 Authentication credentials invalid")
		return
	}
	ss.authUser = user
	ss.reply(235, "2.7.0 Authentication successful")
}

// pathArg returns the address of "<addr> PARAMS".
func pathArg(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '>'); strings.HasPrefix(s, "<") && i > 0 {
		return s[1:i]
	}
	a, _, _ := strings.Cut(s, " ")
	return a
}

// Parse decodes a raw single-part text message: headers, the RFC 2047
// Subject, and the body by its Content-Transfer-Encoding (base64,
// quoted-printable, 7bit or 8bit), with line endings turned into "\n". It
// returns what it could decode together with the first error.
func Parse(raw []byte) (Message, error) {
	m := Message{Raw: string(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, err
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return m, fmt.Errorf("subject: %w", err)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return m, fmt.Errorf("content-type: %w", err)
		}
		if mt != "text/plain" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			return m, fmt.Errorf("content-type %q: only text/plain in UTF-8 is decoded", ct)
		}
	}
	var body io.Reader = msg.Body
	switch cte := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); cte {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: bufio.NewReader(msg.Body)})
	case "quoted-printable":
		body = quotedprintable.NewReader(msg.Body)
	case "", "7bit", "8bit":
	default:
		return m, fmt.Errorf("content-transfer-encoding %q not supported", cte)
	}
	b, err := io.ReadAll(body)
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	if err != nil {
		return m, fmt.Errorf("body: %w", err)
	}
	return m, nil
}

// newlineStripper drops CR and LF so base64 lines decode as one stream.
type newlineStripper struct{ r io.ByteReader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		c, err := n.r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return i, nil
			}
			return i, err
		}
		if c == '\r' || c == '\n' {
			continue
		}
		p[i] = c
		i++
	}
	return i, nil
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
