package web

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// mailText composes a message in the recipient's language; when that is
// not known (lang ""), Japanese comes first with English below.
func (s *Server) mailText(lang, subjectKey, bodyKey string, args ...any) (subject, body string) {
	if i18n.Valid(lang) {
		return s.Catalog.T(lang, subjectKey, args...), s.Catalog.T(lang, bodyKey, args...)
	}
	subject = s.Catalog.T("ja", subjectKey, args...) + " / " + s.Catalog.T("en", subjectKey, args...)
	body = s.Catalog.T("ja", bodyKey, args...) + "\n\n---------- English ----------\n\n" + s.Catalog.T("en", bodyKey, args...)
	return subject, body
}

// sendMail writes a message in tx, so that it exists exactly when the
// change it announces commits.
func (s *Server) sendMail(ctx context.Context, tx db.Querier, orgID, to, lang, subjectKey, bodyKey string, args ...any) error {
	if s.Mailer == nil {
		return apperr.New(apperr.Unavailable, "outbox.unavailable")
	}
	subject, body := s.mailText(lang, subjectKey, bodyKey, args...)
	_, err := s.Mailer.Send(ctx, tx, notify.Message{OrgID: orgID, To: to, Subject: subject, Body: body})
	return err
}

type mailPart struct {
	Text string
	Link bool
}

type outboxMail struct {
	To, Subject string
	CreatedAt   time.Time
	Parts       []mailPart
}

var mailURL = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkParts splits a plain-text body into text and the links of this site,
// so that the outbox page can make them clickable.
func (s *Server) linkParts(body string) []mailPart {
	var out []mailPart
	last := 0
	for _, m := range mailURL.FindAllStringIndex(body, -1) {
		u := body[m[0]:m[1]]
		if s.BaseURL == "" || len(u) < len(s.BaseURL) || u[:len(s.BaseURL)] != s.BaseURL {
			continue
		}
		out = append(out, mailPart{Text: body[last:m[0]]}, mailPart{Text: u, Link: true})
		last = m[1]
	}
	return append(out, mailPart{Text: body[last:]})
}

// outbox shows, in demo mode only, the mail medisac would have sent: an
// operator sees all of it, anyone else the mail of their organisation.
func (s *Server) outbox(w http.ResponseWriter, r *http.Request, mb *member) error {
	if !s.Demo || s.Mailer == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	org := mb.P.OrgID
	if mb.P.IsOperator() {
		org = ""
	}
	ms, err := s.Mailer.Outbox(r.Context(), org, 100)
	if err != nil {
		return err
	}
	var v struct{ Mails []outboxMail }
	for _, m := range ms {
		v.Mails = append(v.Mails, outboxMail{To: m.To, Subject: m.Subject, CreatedAt: m.CreatedAt, Parts: s.linkParts(m.Body)})
	}
	return s.view(w, r, "outbox.title", "outbox", v)
}
