package smtptest_test

import (
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/notify/smtptest"
)

func TestPlainClient(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithoutSTARTTLS())
	raw := "From: a@b.example\r\nTo: c@d.example\r\nSubject: =?UTF-8?Q?=E3=83=86=E3=82=B9=E3=83=88?=\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		".dot line\r\n=E6=9C=AC=E6=96=87=\r\ncontinued\r\n"
	if err := smtp.SendMail(srv.Addr(), nil, "a@b.example", []string{"c@d.example", "e@f.example"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, "E@F.example", time.Second)
	if m.Subject != "テスト" || m.Body != ".dot line\n本文continued\n" || m.From != "a@b.example" || len(m.To) != 2 || m.TLS {
		t.Fatalf("got %+v", m)
	}
	if !strings.HasPrefix(m.Raw, "From: a@b.example\r\n") {
		t.Fatalf("raw %q", m.Raw)
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("message count")
	}
}

func TestWaitForConsumesInOrder(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithoutSTARTTLS())
	for _, s := range []string{"one", "two"} {
		msg := "Subject: " + s + "\r\n\r\n" + s + "\r\n"
		if err := smtp.SendMail(srv.Addr(), nil, "a@b.example", []string{"c@d.example"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := srv.WaitFor(t, "c@d.example", time.Second), srv.WaitFor(t, "c@d.example", time.Second); a.Subject != "one" || b.Subject != "two" {
		t.Fatalf("got %q then %q", a.Subject, b.Subject)
	}
}

func TestAuthOnlyOverTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("u", "p"))
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered before STARTTLS")
	}
	if err := c.Mail("a@b.example"); err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("MAIL without auth = %v, want 530", err)
	}
}
