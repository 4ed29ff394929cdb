package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/notify/smtptest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const from = "medisac 事務局 <noreply@isac.example.jp>"

func config(srv *smtptest.Server, security string) *notify.SMTPConfig {
	return &notify.SMTPConfig{
		Host:     srv.Host(),
		Port:     srv.Port(),
		Security: security,
		From:     from,
		RootCAs:  srv.RootCAs(),
		Timeout:  30 * time.Second,
	}
}

func setup(t *testing.T, d *db.DB, cfg *notify.SMTPConfig) (*notify.Mailer, *jobs.Queue, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	q := jobs.New(d, clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m, err := notify.NewMailer(d, q, cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return m, q, clk
}

func runOnce(t *testing.T, q *jobs.Queue, want int) {
	t.Helper()
	if n, err := q.RunOnce(context.Background()); err != nil || n != want {
		t.Fatalf("RunOnce = %d, %v; want %d", n, err, want)
	}
}

func TestDeliverJapaneseOverSTARTTLSWithAuth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t, smtptest.WithAuth("medisac", "s3cret"))
		cfg := config(srv, notify.SecuritySTARTTLS)
		cfg.Username, cfg.Password = "medisac", "s3cret"
		m, q, _ := setup(t, d, cfg)
		subject := "【重要】パスワード再設定のご案内（医療法人社団 さくら会 さくらクリニック）"
		body := "山田 太郎 様\n\n下記のリンクから 24 時間以内にパスワードを再設定してください。\nhttps://isac.example.jp/reset?token=abc\n\n.\n以上\n"
		id, err := m.Send(ctx, nil, notify.Message{OrgID: "org1", To: "山田 太郎 <yamada@clinic.example.jp>", Subject: subject, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := m.Get(ctx, "org1", id); s.Status() != "pending" || s.JobID == "" {
			t.Fatalf("before delivery: %+v", s)
		}
		runOnce(t, q, 1)
		got := srv.WaitFor(t, "yamada@clinic.example.jp", 5*time.Second)
		if got.Subject != subject || got.Body != body {
			t.Fatalf("received subject %q body %q", got.Subject, got.Body)
		}
		if !got.TLS || got.AuthUser != "medisac" || got.From != "noreply@isac.example.jp" {
			t.Fatalf("TLS %v, user %q, from %q", got.TLS, got.AuthUser, got.From)
		}
		cmds := srv.Commands()
		if i, j := slices.Index(cmds, "STARTTLS"), slices.Index(cmds, "AUTH"); i < 0 || j < i {
			t.Fatalf("commands %v: want STARTTLS before AUTH", cmds)
		}
		if !strings.Contains(got.Raw, "Message-ID: <"+id+"@isac.example.jp>") {
			t.Fatalf("Message-ID missing:\n%s", got.Raw)
		}
		s, err := m.Get(ctx, "org1", id)
		if err != nil || s.Status() != "sent" || s.SentAt.IsZero() || s.Delivery != notify.DeliverySMTP || s.Attempts != 1 {
			t.Fatalf("after delivery: %+v, %v", s, err)
		}
		if j, _ := q.Get(ctx, s.JobID); j.State != jobs.Done {
			t.Fatalf("job %+v", j)
		}
		// Running the delivery again (as after a lost lease) sends nothing more.
		if _, err := q.Enqueue(ctx, nil, notify.JobKind, map[string]string{"id": id}); err != nil {
			t.Fatal(err)
		}
		runOnce(t, q, 1)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("%d messages after a repeated delivery job", n)
		}
	})
}

func TestImplicitTLSAndLoginAuth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := smtptest.Start(t, smtptest.ImplicitTLS(), smtptest.WithAuth("u", "p"), smtptest.AuthMechanisms("LOGIN"))
		cfg := config(srv, notify.SecurityTLS)
		cfg.Username, cfg.Password = "u", "p"
		m, q, _ := setup(t, d, cfg)
		if _, err := m.Send(context.Background(), nil, notify.Message{To: "a@b.example", Subject: "件名", Body: "本文"}); err != nil {
			t.Fatal(err)
		}
		runOnce(t, q, 1)
		got := srv.WaitFor(t, "a@b.example", 5*time.Second)
		if !got.TLS || got.AuthUser != "u" || got.Subject != "件名" || got.Body != "本文" {
			t.Fatalf("got %+v", got)
		}
		if slices.Contains(srv.Commands(), "STARTTLS") {
			t.Fatal("STARTTLS on an implicit TLS connection")
		}
	})
}

func TestDeliveryFailures(t *testing.T) {
	tests := []struct {
		name        string
		opts        []smtptest.Option
		security    string
		user, pass  string
		to          string
		wantState   jobs.State
		wantErr     string
		noMailCmd   bool
		skipVerify  bool
		wrongRootCA bool
	}{
		{name: "no STARTTLS offered", opts: []smtptest.Option{smtptest.WithoutSTARTTLS()}, security: notify.SecuritySTARTTLS,
			to: "a@b.example", wantState: jobs.Queued, wantErr: "STARTTLS", noMailCmd: true},
		{name: "wrong password", opts: []smtptest.Option{smtptest.WithAuth("u", "p")}, security: notify.SecuritySTARTTLS,
			user: "u", pass: "wrong", to: "a@b.example", wantState: jobs.Failed, wantErr: "535", noMailCmd: true},
		{name: "recipient rejected", opts: []smtptest.Option{smtptest.RejectRecipient("gone@b.example")}, security: notify.SecuritySTARTTLS,
			to: "gone@b.example", wantState: jobs.Failed, wantErr: "550"},
		{name: "untrusted certificate", security: notify.SecuritySTARTTLS, wrongRootCA: true,
			to: "a@b.example", wantState: jobs.Queued, wantErr: "certificate", noMailCmd: true},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				srv := smtptest.Start(t, tc.opts...)
				cfg := config(srv, tc.security)
				cfg.Username, cfg.Password = tc.user, tc.pass
				if tc.wrongRootCA {
					cfg.RootCAs = smtptest.Start(t).RootCAs()
				}
				m, q, _ := setup(t, d, cfg)
				id, err := m.Send(ctx, nil, notify.Message{OrgID: "o", To: tc.to, Subject: "s", Body: "b"})
				if err != nil {
					t.Fatal(err)
				}
				runOnce(t, q, 1)
				if n := len(srv.Messages()); n != 0 {
					t.Fatalf("server accepted %d messages", n)
				}
				if tc.noMailCmd && slices.Contains(srv.Commands(), "MAIL") {
					t.Fatalf("MAIL sent: %v", srv.Commands())
				}
				s, _ := m.Get(ctx, "o", id)
				j, _ := q.Get(ctx, s.JobID)
				if j.State != tc.wantState || !strings.Contains(j.LastError, tc.wantErr) || !strings.Contains(s.LastError, tc.wantErr) {
					t.Fatalf("job %s %q; message %q; want %s containing %q", j.State, j.LastError, s.LastError, tc.wantState, tc.wantErr)
				}
				wantStatus := map[jobs.State]string{jobs.Queued: "pending", jobs.Failed: "failed"}[tc.wantState]
				if s.Status() != wantStatus {
					t.Fatalf("message status %s, want %s", s.Status(), wantStatus)
				}
			})
		}
	})
}

func TestServerDownThenDeliveredLater(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		m, q, clk := setup(t, d, config(srv, notify.SecuritySTARTTLS))
		srv.Down()
		id, err := m.Send(ctx, nil, notify.Message{OrgID: "o", To: "a@b.example", Subject: "届きましたか", Body: "再送のテスト"})
		if err != nil {
			t.Fatal(err)
		}
		for attempt := 1; attempt <= 2; attempt++ {
			runOnce(t, q, 1)
			s, _ := m.Get(ctx, "o", id)
			j, _ := q.Get(ctx, s.JobID)
			if j.State != jobs.Queued || j.Attempts != attempt || s.Status() != "pending" || s.Attempts != attempt ||
				!strings.Contains(s.LastError, "connect") {
				t.Fatalf("attempt %d: job %+v message %+v", attempt, j, s)
			}
			runOnce(t, q, 0) // waits for its backoff
			clk.Advance(time.Hour)
		}
		srv.Up(t)
		runOnce(t, q, 1)
		got := srv.WaitFor(t, "a@b.example", 5*time.Second)
		if got.Subject != "届きましたか" || got.Body != "再送のテスト" {
			t.Fatalf("got %+v", got)
		}
		if s, _ := m.Get(ctx, "o", id); s.Status() != "sent" || s.LastError != "" || s.Attempts != 3 {
			t.Fatalf("message %+v", s)
		}
	})
}

func TestSendWithQueueRunning(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := smtptest.Start(t)
		q := jobs.New(d, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		m, err := notify.NewMailer(d, q, config(srv, notify.SecuritySTARTTLS), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = q.Run(ctx, 4) }()
		defer func() { cancel(); <-done }()
		for _, to := range []string{"a@b.example", "c@d.example", "e@f.example"} {
			if _, err := m.Send(ctx, nil, notify.Message{To: to, Subject: "招待", Body: to}); err != nil {
				t.Fatal(err)
			}
		}
		for _, to := range []string{"e@f.example", "a@b.example", "c@d.example"} {
			if got := srv.WaitFor(t, to, 10*time.Second); got.Body != to {
				t.Fatalf("body %q", got.Body)
			}
		}
	})
}

func TestOutboxMode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		m, q, clk := setup(t, d, nil)
		if m.SMTP() {
			t.Fatal("SMTP() true without config")
		}
		var ids []string
		for _, org := range []string{"org1", "org2", "org1"} {
			id, err := m.Send(ctx, nil, notify.Message{OrgID: org, To: "x@" + org + ".example", Subject: "お知らせ " + org, Body: "本文"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			clk.Advance(time.Second)
		}
		tests := []struct {
			org   string
			limit int
			want  []string
		}{
			{"org1", 10, []string{ids[2], ids[0]}},
			{"org2", 10, []string{ids[1]}},
			{"", 10, []string{ids[2], ids[1], ids[0]}},
			{"", 2, []string{ids[2], ids[1]}},
			{"org3", 10, nil},
		}
		for _, tc := range tests {
			got, err := m.Outbox(ctx, tc.org, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, s := range got {
				gotIDs = append(gotIDs, s.ID)
				if s.Status() != "outbox" || s.Delivery != notify.DeliveryOutbox || s.JobID != "" {
					t.Fatalf("stored %+v", s)
				}
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Fatalf("Outbox(%q, %d) = %v, want %v", tc.org, tc.limit, gotIDs, tc.want)
			}
		}
		s, err := m.Get(ctx, "org1", ids[0])
		if err != nil || s.Subject != "お知らせ org1" || s.Body != "本文" || s.To != "x@org1.example" {
			t.Fatalf("Get = %+v, %v", s, err)
		}
		if _, err := m.Get(ctx, "org2", ids[0]); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Get from another organisation = %v, want NotFound", err)
		}
		if c, _ := q.Counts(ctx); c[jobs.Queued] != 0 {
			t.Fatalf("jobs queued in outbox mode: %v", c)
		}
	})
}

func TestSendInTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		m, q, _ := setup(t, d, config(srv, notify.SecuritySTARTTLS))
		rollback := errors.New("rollback")
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := m.Send(ctx, tx, notify.Message{To: "a@b.example", Subject: "s", Body: "b"}); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if got, _ := m.Outbox(ctx, "", 10); len(got) != 0 {
			t.Fatalf("message of a rolled-back transaction: %+v", got)
		}
		if c, _ := q.Counts(ctx); c[jobs.Queued] != 0 {
			t.Fatalf("job of a rolled-back transaction: %v", c)
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := m.Send(ctx, tx, notify.Message{To: "a@b.example", Subject: "s", Body: "b"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		runOnce(t, q, 1)
		srv.WaitFor(t, "a@b.example", 5*time.Second)
	})
}

func TestSendRefusesInjection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		m, q, _ := setup(t, d, config(srv, notify.SecuritySTARTTLS))
		for _, msg := range []notify.Message{
			{To: "a@b.example\r\nBcc: victim@example.jp", Subject: "s", Body: "b"},
			{To: "a@b.example", Subject: "s\r\nBcc: victim@example.jp", Body: "b"},
		} {
			if _, err := m.Send(ctx, nil, msg); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Send(%q, %q) = %v, want Invalid", msg.To, msg.Subject, err)
			}
		}
		if got, _ := m.Outbox(ctx, "", 10); len(got) != 0 {
			t.Fatalf("stored %+v", got)
		}
		runOnce(t, q, 0)
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		cfg      notify.SMTPConfig
		field    string
		wantPort int
	}{
		{"defaults", notify.SMTPConfig{Host: "smtp.example.jp", From: "noreply@example.jp"}, "", 587},
		{"tls port", notify.SMTPConfig{Host: "smtp.example.jp", Security: "tls", From: "noreply@example.jp"}, "", 465},
		{"local relay", notify.SMTPConfig{Host: "localhost", Security: "none", Username: "u", Password: "p", From: "a@b.example"}, "", 25},
		{"no host", notify.SMTPConfig{From: "a@b.example"}, "smtp_host", 0},
		{"bad security", notify.SMTPConfig{Host: "h", Security: "ssl", From: "a@b.example"}, "smtp_security", 0},
		{"bad port", notify.SMTPConfig{Host: "h", Port: 70000, From: "a@b.example"}, "smtp_port", 0},
		{"bad from", notify.SMTPConfig{Host: "h", From: "noreply"}, "smtp_from", 0},
		{"from with newline", notify.SMTPConfig{Host: "h", From: "a@b.example\r\nBcc: x@y.example"}, "smtp_from", 0},
		{"password without user", notify.SMTPConfig{Host: "h", Password: "p", From: "a@b.example"}, "smtp_username", 0},
		{"password in clear", notify.SMTPConfig{Host: "smtp.example.jp", Security: "none", Username: "u", Password: "p", From: "a@b.example"}, "smtp_password", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			err := c.Validate()
			if tc.field == "" {
				if err != nil || c.Port != tc.wantPort || c.Timeout == 0 || c.MaxAttempts == 0 {
					t.Fatalf("Validate = %v, %+v", err, c)
				}
				return
			}
			if ae := apperr.From(err); err == nil || ae.Field != tc.field {
				t.Fatalf("Validate = %v, want error on %s", err, tc.field)
			}
		})
	}
}
