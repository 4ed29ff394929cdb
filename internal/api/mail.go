package api

import (
	"context"
	"strings"
	"unicode"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// inviteLink is the web address that accepts an invitation.
func (a *API) inviteLink(raw string) string { return a.BaseURL + "/invite/" + raw }

// sendInvite queues the invitation mail in tx, so that the mail goes out
// exactly when the invitation is stored. The mail is in Japanese with an
// English copy below: the invitee's language is not known yet.
func (a *API) sendInvite(ctx context.Context, tx *db.Tx, c *call, org *auth.Org, inv *invitation, raw string) error {
	if a.Mailer == nil {
		return nil
	}
	link := a.inviteLink(raw)
	inviter := c.p.DisplayName
	if inviter == "" {
		inviter = c.p.Email
	}
	text := func(lang string) string {
		return a.Catalog.T(lang, "api.mail.invite.body", inviter, org.Name, a.Catalog.T(lang, "auth.role."+string(inv.Role)),
			i18n.DateTime(lang, inv.ExpiresAt), link)
	}
	name := oneLine(org.Name)
	_, err := a.Mailer.Send(ctx, tx, notify.Message{
		OrgID:   org.ID,
		To:      inv.Email,
		Subject: a.Catalog.T(i18n.Default, "api.mail.invite.subject", name) + " / " + a.Catalog.T("en", "api.mail.invite.subject", name),
		Body:    text(i18n.Default) + "\n\n----\n\n" + text("en"),
	})
	return err
}

// oneLine replaces control characters (line breaks included) with spaces,
// for mail headers.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
