package notify

import (
	"bytes"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/i18n"
)

// Message is an e-mail to one person: plain text, UTF-8. OrgID is the
// organisation it concerns ("" for mail that belongs to no organisation,
// such as an operator's), which scopes who may read it in the outbox.
type Message struct {
	OrgID   string
	To      string // "addr@example.jp" or "山田 太郎 <addr@example.jp>"
	Subject string
	Body    string
}

// maxSubject and maxBody bound what Send accepts, in bytes.
const (
	maxSubject = 900
	maxBody    = 1 << 20
)

// parseAddress parses one address for a header or an envelope, refusing
// anything that could end a header line or that SMTP without SMTPUTF8
// cannot carry.
func parseAddress(s, field string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, apperr.Field(field, "mail.error.newline")
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		e := apperr.Wrap(err, apperr.Invalid, "mail.error.bad_address", s)
		e.Field = field
		return nil, e
	}
	if !isASCII(a.Address) || strings.ContainsAny(a.Address, "<> \t") {
		return nil, apperr.Field(field, "mail.error.bad_address", s)
	}
	return a, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 {
			return false
		}
	}
	return true
}

// check validates m and returns its parsed recipient.
func (m Message) check() (*mail.Address, error) {
	to, err := parseAddress(m.To, "to")
	if err != nil {
		return nil, err
	}
	switch {
	case strings.ContainsAny(m.Subject, "\r\n\x00"):
		return nil, apperr.Field("subject", "mail.error.newline")
	case strings.TrimSpace(m.Subject) == "":
		return nil, apperr.Field("subject", "mail.error.subject_required")
	case len(m.Subject) > maxSubject:
		return nil, apperr.Field("subject", "mail.error.subject_too_long")
	case !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Body):
		return nil, apperr.Field("body", "mail.error.not_utf8")
	case strings.ContainsRune(m.Body, 0):
		return nil, apperr.Field("body", "mail.error.not_utf8")
	case len(m.Body) > maxBody:
		return nil, apperr.New(apperr.TooLarge, "mail.error.body_too_large")
	}
	return to, nil
}

// build returns the RFC 5322 form of m from from, with a Message-ID made
// from id (so that every retry sends the same message) and a Date of date.
func build(from *mail.Address, m Message, id string, date time.Time) ([]byte, error) {
	to, err := m.check()
	if err != nil {
		return nil, err
	}
	domain := "localhost"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	header("From", formatAddress(from))
	header("To", formatAddress(to))
	header("Subject", encodeHeader(m.Subject))
	header("Date", date.In(i18n.Tokyo).Format(time.RFC1123Z))
	header("Message-ID", "<"+id+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "base64")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = strings.ReplaceAll(body, "\n", "\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(body))
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// encodeHeader returns s as an unstructured header value: as it is when it
// is short printable ASCII, otherwise as RFC 2047 encoded words folded onto
// continuation lines.
func encodeHeader(s string) string {
	plain := len(s) <= 70 && !strings.Contains(s, "=?") && s == strings.TrimSpace(s)
	for i := 0; plain && i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			plain = false
		}
	}
	if plain {
		return s
	}
	return strings.Join(encodeWords(s), "\r\n ")
}

// formatAddress returns a for an address header, its display name (when
// not ASCII) as encoded words folded like the subject.
func formatAddress(a *mail.Address) string {
	if isASCII(a.Name) {
		return a.String()
	}
	return strings.Join(encodeWords(a.Name), "\r\n ") + " <" + a.Address + ">"
}

// encodeWords returns s as RFC 2047 "B" encoded words. 39 bytes make 52
// base64 characters, so that a word with its "=?UTF-8?B?" and "?=" fits on
// a line after "Subject: " within 78 characters.
func encodeWords(s string) []string {
	var words []string
	for len(s) > 0 {
		n := min(len(s), 39)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return words
}
