package assess

import (
	"context"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/notify"
)

// Translator renders a message key (an *i18n.Catalog).
type Translator interface {
	T(lang, key string, args ...any) string
}

// VendorMail writes the e-mails of vendor requests: the request itself and
// reminders. BaseURL is the public address of the web UI.
type VendorMail struct {
	Mailer  *notify.Mailer
	Catalog Translator
	BaseURL string
}

// LinkPath is the web path of a vendor's answer link.
func LinkPath(token string) string { return "/vendor-sheet/" + token }

// InboxPath is the web path where a vendor organisation sees its requests.
const InboxPath = "/assess/vendor/inbox"

// Send mails a request (reminder false) or a reminder to the vendor's
// address, in tx. token is the raw link token for link requests. Requests
// without an address are skipped.
func (m VendorMail) Send(ctx context.Context, tx db.Querier, r *VendorRequest, customer, editionTitle, token string, reminder bool) error {
	if m.Mailer == nil || r.VendorEmail == "" {
		return nil
	}
	base := strings.TrimRight(m.BaseURL, "/")
	where := base + InboxPath
	how := m.Catalog.T("ja", "assess.mail.vendor_how_inbox")
	if r.ByLink() {
		where = base + LinkPath(token)
		how = m.Catalog.T("ja", "assess.mail.vendor_how_link", i18nDate(r.LinkExpires))
	}
	due := r.DueOn
	if due == "" {
		due = m.Catalog.T("ja", "assess.mail.no_due")
	}
	subj := "assess.mail.vendor_subject"
	if reminder {
		subj = "assess.mail.vendor_reminder_subject"
	}
	body := m.Catalog.T("ja", "assess.mail.vendor_body", r.VendorName, customer, editionTitle, due, how, where)
	_, err := m.Mailer.Send(ctx, tx, notify.Message{OrgID: r.OrgID, To: r.VendorEmail, Subject: m.Catalog.T("ja", subj, customer), Body: body})
	return err
}

func i18nDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return Today(*t)
}

// SendVendorReminders mails a reminder for every request DueReminders
// finds (a fresh link for link requests), each in its own transaction, and
// returns how many went out. It is the body of the periodic reminder job.
func SendVendorReminders(ctx context.Context, d *db.DB, reg *Registry, m VendorMail, now time.Time) (int, error) {
	rs, err := DueReminders(ctx, d, now, 500)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, r := range rs {
		err := d.InTx(ctx, func(tx *db.Tx) error {
			token, err := RenewLink(ctx, tx, r.OrgID, r.ID, now)
			if err != nil {
				return err
			}
			cur, err := GetVendorRequest(ctx, tx, r.OrgID, r.ID)
			if err != nil {
				return err
			}
			title := r.EditionID
			if e, err := reg.Get(ctx, tx, r.OrgID, r.EditionID); err == nil {
				title = e.Title
			}
			if err := m.Send(ctx, tx, cur, r.CustomerName, title, token, true); err != nil {
				return err
			}
			return MarkReminded(ctx, tx, r.OrgID, r.ID, now)
		})
		if err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}
