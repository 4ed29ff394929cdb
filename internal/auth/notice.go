package auth

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// Outbox queues a message in the caller's transaction; *notify.Mailer is
// one.
type Outbox interface {
	Send(ctx context.Context, q db.Querier, msg notify.Message) (string, error)
}

// Notices mails an organisation's admins about every change of its
// membership (an invitation made or revoked, a member who joined, a role
// changed, a member removed, an operator's proposal made or answered) and
// about an organisation becoming an ISAC operator. Each change queues one
// short mail per admin, in the transaction of the change, in Japanese with
// an English copy below. A nil *Notices, or one without Mail, sends
// nothing (command-line tools and tests that do not look at mail).
type Notices struct {
	Mail    Outbox
	Catalog *i18n.Catalog
	// BaseURL is the site's address, for the links in the mails.
	BaseURL string
}

// noticeKind is a notice's subject and body keys in the auth catalogs.
type noticeKind struct{ subject, body string }

var (
	noticeInvited          = noticeKind{"auth.notice.invited.subject", "auth.notice.invited.body"}
	noticeRevoked          = noticeKind{"auth.notice.revoked.subject", "auth.notice.revoked.body"}
	noticeJoined           = noticeKind{"auth.notice.joined.subject", "auth.notice.joined.body"}
	noticeRole             = noticeKind{"auth.notice.role.subject", "auth.notice.role.body"}
	noticeRemoved          = noticeKind{"auth.notice.removed.subject", "auth.notice.removed.body"}
	noticeProposed         = noticeKind{"auth.notice.proposed.subject", "auth.notice.proposed.body"}
	noticeProposalAccepted = noticeKind{"auth.notice.proposal_accepted.subject", "auth.notice.proposal_accepted.body"}
	noticeProposalDeclined = noticeKind{"auth.notice.proposal_declined.subject", "auth.notice.proposal_declined.body"}
	noticeOperator         = noticeKind{"auth.notice.operator.subject", "auth.notice.operator.body"}
	noticeOrgChanged       = noticeKind{"auth.notice.org_changed.subject", "auth.notice.org_changed.body"}
)

// activeAdmins returns the addresses of orgID's admins who can sign in.
func activeAdmins(ctx context.Context, q db.Querier, orgID string) ([]string, error) {
	return db.QueryAll(ctx, q, func(r db.Scanner) (string, error) {
		var e string
		err := r.Scan(&e)
		return e, err
	}, `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? AND m.role = 'admin' AND u.disabled = FALSE ORDER BY u.email`, orgID)
}

// who names the acting person in a mail.
func who(p *Principal) string {
	if p == nil {
		return ""
	}
	if p.DisplayName != "" && p.Email != "" {
		return oneLine(p.DisplayName) + " <" + p.Email + ">"
	}
	return p.Email
}

// contact names whom to ask about p's change: p's organisation and p's
// address.
func contact(p *Principal) string {
	if p == nil {
		return ""
	}
	if p.OrgName == "" {
		return p.Email
	}
	return oneLine(p.OrgName) + " <" + p.Email + ">"
}

// roleArg is a role among a notice's arguments: send names it in each
// language.
type roleArg Role

// langArg is an argument of a notice written per language (a list of
// changes, a time): send calls it with each language.
type langArg func(lang string) string

// send queues notice kind for every active admin of org. The body's
// arguments are formatted per language; a roleArg becomes the role's name
// in that language. The footer names the organisation and links to its
// members page.
func (n *Notices) send(ctx context.Context, q db.Querier, org *Org, kind noticeKind, args ...any) error {
	if n == nil || n.Mail == nil || n.Catalog == nil {
		return nil
	}
	to, err := activeAdmins(ctx, q, org.ID)
	if err != nil || len(to) == 0 {
		return err
	}
	name := oneLine(org.Name)
	text := func(lang string) string {
		a := make([]any, len(args))
		for i, x := range args {
			switch v := x.(type) {
			case roleArg:
				x = n.Catalog.T(lang, fmt.Sprintf("auth.role.%s", v))
			case langArg:
				x = v(lang)
			}
			a[i] = x
		}
		return n.Catalog.T(lang, kind.body, a...) + "\n\n" +
			n.Catalog.T(lang, "auth.notice.footer", name, strings.TrimRight(n.BaseURL, "/")+"/org")
	}
	subject := n.Catalog.T(i18n.Default, kind.subject, name) + " / " + n.Catalog.T("en", kind.subject, name)
	body := text(i18n.Default) + "\n\n----\n\n" + text("en")
	for _, addr := range to {
		if _, err := n.Mail.Send(ctx, q, notify.Message{OrgID: org.ID, To: addr, Subject: subject, Body: body}); err != nil {
			return err
		}
	}
	return nil
}

// oneLine replaces control characters (line breaks included) with spaces,
// for names that end up in mail headers.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// orgChangeList writes the changes from before to after, one line per
// field: its name, the old value and the new one, in lang.
func (n *Notices) orgChangeList(before, after *Org) langArg {
	return func(lang string) string {
		val := func(o *Org, f string) string {
			var v string
			switch f {
			case "kind":
				v = n.Catalog.T(lang, fmt.Sprintf("auth.kind.%s", o.Kind))
			case "name":
				v = o.Name
			case "name_kana":
				v = o.NameKana
			case "prefecture":
				v = o.Prefecture
			case "medical_code":
				v = o.MedicalCode
			case "beds":
				if o.Beds != nil {
					v = fmt.Sprint(*o.Beds)
				}
			case "mfa_policy":
				v = n.Catalog.T(lang, fmt.Sprintf("auth.mfa_policy.%s", o.MFAPolicy))
			}
			if v == "" {
				return n.Catalog.T(lang, "auth.notice.org_changed.unset")
			}
			if lang == "ja" {
				return "「" + oneLine(v) + "」"
			}
			return "\"" + oneLine(v) + "\""
		}
		in := OrgInput{Kind: after.Kind, Name: after.Name, NameKana: after.NameKana, Prefecture: after.Prefecture,
			MedicalCode: after.MedicalCode, Beds: after.Beds, MFAPolicy: after.MFAPolicy}
		var b strings.Builder
		for _, f := range changedFields(before, &in) {
			b.WriteString(n.Catalog.T(lang, "auth.notice.org_changed.line", n.Catalog.T(lang, fmt.Sprintf("auth.field.%s", f)), val(before, f), val(after, f)))
			b.WriteString("\n")
		}
		return strings.TrimRight(b.String(), "\n")
	}
}

// when writes t as a date and time in lang.
func when(t time.Time) langArg {
	return func(lang string) string { return i18n.DateTime(lang, t) }
}

// invitation queues the invitation mail of inv (the link to accept it) to
// the invitee, in q's transaction, from p: in the invitee's language when
// it is known, otherwise Japanese with English below.
func (n *Notices) invitation(ctx context.Context, q db.Querier, p *Principal, orgID string, inv *Invitation) error {
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return err
	}
	inviter := p.DisplayName
	if inviter == "" {
		inviter = p.Email
	}
	link := strings.TrimRight(n.BaseURL, "/") + "/invite/" + inv.Raw
	name := oneLine(org.Name)
	text := func(lang string) string {
		return n.Catalog.T(lang, "auth.mail.invite.body", oneLine(inviter), name, n.Catalog.T(lang, fmt.Sprintf("auth.role.%s", inv.Link.Role)),
			i18n.DateTime(lang, inv.Link.ExpiresAt), link)
	}
	subject := n.Catalog.T(i18n.Default, "auth.mail.invite.subject", name) + " / " + n.Catalog.T("en", "auth.mail.invite.subject", name)
	body := text(i18n.Default) + "\n\n----\n\n" + text("en")
	if i18n.Valid(inv.Lang) {
		subject, body = n.Catalog.T(inv.Lang, "auth.mail.invite.subject", name), text(inv.Lang)
	}
	_, err = n.Mail.Send(ctx, q, notify.Message{OrgID: org.ID, To: inv.Link.Email, Subject: subject, Body: body})
	return err
}
