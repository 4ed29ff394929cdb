package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/jobs"
)

// The values of SMTPConfig.Security.
const (
	SecuritySTARTTLS = "starttls" // plain connection upgraded with STARTTLS; never sends in clear
	SecurityTLS      = "tls"      // TLS from the first byte ("SMTPS", usually port 465)
	SecurityNone     = "none"     // no encryption: only for a relay on the same host or network
)

// SMTPConfig is how medisac reaches its mail server.
type SMTPConfig struct {
	Host     string
	Port     int    // default 587 for starttls, 465 for tls, 25 for none
	Security string // SecuritySTARTTLS (default), SecurityTLS or SecurityNone
	Username string // empty: no authentication
	Password string
	From     string // header and envelope sender, e.g. "medisac <noreply@isac.example.jp>"
	HeloName string // name given in EHLO; default "localhost"
	// InsecureSkipVerify accepts any server certificate. Tests only.
	InsecureSkipVerify bool
	// RootCAs verifies the server certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds one delivery (connect to QUIT); default 30 seconds.
	Timeout time.Duration
	// MaxAttempts is how often a message is tried before it is marked
	// failed; default 12 (about four hours of retries).
	MaxAttempts int
}

// Validate checks c, fills in the defaults (Port, Security, HeloName,
// Timeout, MaxAttempts) and returns an apperr Invalid error naming the
// first bad field (smtp_host, smtp_port, smtp_security, smtp_from,
// smtp_username, smtp_password).
func (c *SMTPConfig) Validate() error {
	if c.Security == "" {
		c.Security = SecuritySTARTTLS
	}
	switch c.Security {
	case SecuritySTARTTLS, SecurityTLS, SecurityNone:
	default:
		return apperr.Field("smtp_security", "mail.error.smtp_security", c.Security)
	}
	if c.Host == "" || strings.ContainsAny(c.Host, " /\r\n") {
		return apperr.Field("smtp_host", "mail.error.smtp_host")
	}
	if c.Port == 0 {
		c.Port = map[string]int{SecuritySTARTTLS: 587, SecurityTLS: 465, SecurityNone: 25}[c.Security]
	}
	if c.Port < 1 || c.Port > 65535 {
		return apperr.Field("smtp_port", "mail.error.smtp_port")
	}
	if _, err := parseAddress(c.From, "smtp_from"); err != nil {
		return apperr.Field("smtp_from", "mail.error.smtp_from")
	}
	if c.Password != "" && c.Username == "" {
		return apperr.Field("smtp_username", "mail.error.smtp_username")
	}
	if c.Username != "" && c.Security == SecurityNone && !isLoopback(c.Host) {
		return apperr.Field("smtp_password", "mail.error.smtp_clear_password")
	}
	if c.HeloName == "" {
		c.HeloName = "localhost"
	}
	if strings.ContainsAny(c.HeloName, " \r\n") {
		return apperr.Field("smtp_helo", "mail.error.smtp_host")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 12
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deliver sends raw to one recipient over SMTP. Replies in the 5xx range
// (the server refuses for good: unknown recipient, bad password) come back
// marked jobs.Permanent; anything else is worth retrying.
func (c *SMTPConfig) deliver(ctx context.Context, from, to string, raw []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	tlsConf := &tls.Config{
		ServerName:         c.Host,
		RootCAs:            c.RootCAs,
		InsecureSkipVerify: c.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
	}
	dialer := &net.Dialer{Timeout: c.Timeout}
	var conn net.Conn
	if c.Security == SecurityTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	step := "greeting"
	defer func() {
		if err != nil {
			err = classify(step, err)
		}
	}()
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		return err
	}
	defer cl.Close()
	step = "EHLO"
	if err := cl.Hello(c.HeloName); err != nil {
		return err
	}
	if c.Security == SecuritySTARTTLS {
		step = "STARTTLS"
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS; not sending in clear (set security to \"none\" only for a local relay)")
		}
		if err := cl.StartTLS(tlsConf); err != nil {
			return err
		}
	}
	if c.Username != "" {
		step = "AUTH"
		ok, mechs := cl.Extension("AUTH")
		if !ok {
			return errors.New("the server does not offer AUTH but a user name is configured")
		}
		var a smtp.Auth
		switch fields := strings.Fields(strings.ToUpper(mechs)); {
		case contains(fields, "PLAIN"):
			a = smtp.PlainAuth("", c.Username, c.Password, c.Host)
		case contains(fields, "LOGIN"):
			a = &loginAuth{user: c.Username, pass: c.Password, host: c.Host}
		default:
			return fmt.Errorf("the server offers no supported AUTH mechanism (it offers %q; medisac supports PLAIN and LOGIN)", mechs)
		}
		if err := cl.Auth(a); err != nil {
			return err
		}
	}
	step = "MAIL FROM"
	if err := cl.Mail(from); err != nil {
		return err
	}
	step = "RCPT TO"
	if err := cl.Rcpt(to); err != nil {
		return err
	}
	step = "DATA"
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	step = "QUIT"
	_ = cl.Quit()
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// classify names the SMTP step in err and marks 5xx replies permanent.
func classify(step string, err error) error {
	err = fmt.Errorf("SMTP %s: %w", step, err)
	var tpe *textproto.Error
	if errors.As(err, &tpe) && tpe.Code >= 500 && tpe.Code < 600 {
		return jobs.Permanent(err)
	}
	return err
}

// loginAuth is the AUTH LOGIN mechanism, which net/smtp lacks. Like
// smtp.PlainAuth it refuses to send the password over an unencrypted
// connection to anything but the local host.
type loginAuth struct {
	user, pass, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:", "user name", "username":
		return []byte(a.user), nil
	case "password:", "password":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN prompt %q", fromServer)
}

// envelope returns the bare address of a header address, for MAIL FROM and
// RCPT TO.
func envelope(a *mail.Address) string { return a.Address }
