package auth_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/notify/smtptest"
)

// smtpNotices returns notices that go out through a real SMTP exchange
// with a test server, and the queue that delivers them.
func smtpNotices(t *testing.T, d *db.DB) (*auth.Notices, *jobs.Queue, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.WithoutSTARTTLS())
	q := jobs.New(d, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m, err := notify.NewMailer(d, q, &notify.SMTPConfig{Host: srv.Host(), Port: srv.Port(), Security: notify.SecurityNone,
		From: "medisac <noreply@isac.example.jp>", Timeout: 10 * time.Second}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &auth.Notices{Mail: m, Catalog: catalog, BaseURL: "https://medisac.example.jp"}, q, srv
}

// deliver runs the queue until no mail is left to send.
func deliver(t *testing.T, q *jobs.Queue) {
	t.Helper()
	for range 20 {
		n, err := q.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// An ISAC operator's change to a member's record is mailed to each of the
// member's admins (one mail each, naming the field and both values); the
// member's own admin changing the record mails nobody.
func TestOperatorOrgChangeMailed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		second := mustUser(t, d, "admin2@kitamachi-hp.jp", "北町 六郎", f.hosp, auth.RoleAdmin)
		n, q, srv := smtpNotices(t, d)
		operator := principal(t, d, f.oper, f.isac)
		admin := principal(t, d, f.admin, f.hosp)
		beds := 120
		in := auth.OrgInput{Name: f.hosp.Name, NameKana: f.hosp.NameKana, Prefecture: f.hosp.Prefecture, Beds: &beds}

		must(t, d.InTx(ctx, func(tx *db.Tx) error {
			_, _, err := auth.UpdateOrg(ctx, tx, n, operator, f.hosp.ID, in, t0)
			return err
		}))
		deliver(t, q)
		for _, to := range []string{f.admin.Email, second.Email} {
			m := srv.WaitFor(t, to, 10*time.Second)
			for _, want := range []string{"北町総合病院", "ISAC 事務局が組織の登録情報を変更しました", "changed your organisation's record"} {
				if !strings.Contains(m.Subject, want) {
					t.Errorf("subject %q lacks %q", m.Subject, want)
				}
			}
			for _, want := range []string{"・病床数：（なし） → 「120」", "- Number of beds: (none) → \"120\"", f.oper.Email, "医療ISAC事務局",
				"2026年", "事務局 五郎"} {
				if !strings.Contains(m.Body, want) {
					t.Errorf("mail to %s lacks %q:\n%s", to, want, m.Body)
				}
			}
			if ja, en := strings.Index(m.Body, "病床数"), strings.Index(m.Body, "Number of beds"); ja < 0 || en < ja {
				t.Errorf("Japanese should come first:\n%s", m.Body)
			}
		}
		if got := len(srv.Messages()); got != 2 {
			t.Fatalf("%d mails, want one per admin (2)", got)
		}

		// A second change names the old value and the new one.
		beds2 := 150
		in.Beds = &beds2
		must(t, d.InTx(ctx, func(tx *db.Tx) error {
			_, _, err := auth.UpdateOrg(ctx, tx, n, operator, f.hosp.ID, in, t0.Add(time.Hour))
			return err
		}))
		deliver(t, q)
		m := srv.WaitFor(t, f.admin.Email, 10*time.Second)
		if !strings.Contains(m.Body, "・病床数：「120」 → 「150」") || !strings.Contains(m.Body, "- Number of beds: \"120\" → \"150\"") {
			t.Errorf("second mail:\n%s", m.Body)
		}
		srv.WaitFor(t, second.Email, 10*time.Second)

		// The member's own admin changes the record: nobody is mailed.
		beds3 := 151
		in.Beds = &beds3
		must(t, d.InTx(ctx, func(tx *db.Tx) error {
			_, _, err := auth.UpdateOrg(ctx, tx, n, admin, f.hosp.ID, in, t0.Add(2*time.Hour))
			return err
		}))
		deliver(t, q)
		if got := len(srv.Messages()); got != 4 {
			t.Fatalf("%d mails after the admin's own change, want still 4", got)
		}
		if c := count(t, d, `SELECT COUNT(*) FROM mail_outbox`); c != 4 {
			t.Fatalf("%d mails in the outbox, want 4", c)
		}
	})
}
