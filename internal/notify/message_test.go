package notify

import (
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/notify/smtptest"
)

var testFrom = &mail.Address{Name: "medisac 事務局", Address: "noreply@isac.example.jp"}

func TestBuildMessage(t *testing.T) {
	date := time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		msg     Message
		subject string
		body    string
	}{
		{"ascii", Message{To: "a@b.example", Subject: "Hello", Body: "line1\nline2"}, "Hello", "line1\nline2"},
		{"japanese", Message{To: "山田 太郎 <yamada@clinic.example.jp>", Subject: "【重要】パスワード再設定のご案内",
			Body: "山田 太郎 様\r\n\r\n下記のリンクから再設定してください。\rhttps://isac.example.jp/reset?t=abc\n"},
			"【重要】パスワード再設定のご案内", "山田 太郎 様\n\n下記のリンクから再設定してください。\nhttps://isac.example.jp/reset?t=abc\n"},
		{"long japanese subject", Message{To: "a@b.example", Subject: strings.Repeat("医療機関向けセキュリティ情報共有", 10), Body: ""},
			strings.Repeat("医療機関向けセキュリティ情報共有", 10), ""},
		{"encoded-word lookalike", Message{To: "a@b.example", Subject: "=?UTF-8?B?6YeN6KaB?=", Body: ".\n..\n.leading dot"},
			"=?UTF-8?B?6YeN6KaB?=", ".\n..\n.leading dot"},
		{"spaces kept", Message{To: "a@b.example", Subject: "  padded\tsubject ", Body: "x"}, "  padded\tsubject ", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := build(testFrom, tc.msg, "0190f000-0000-7000-8000-000000000001", date)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > 78 {
					t.Errorf("line longer than 78 characters: %q", line)
				}
			}
			if strings.Contains(strings.ReplaceAll(string(raw), "\r\n", ""), "\n") {
				t.Error("bare LF in message")
			}
			m, err := smtptest.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject || m.Body != tc.body {
				t.Fatalf("decoded subject %q body %q; want %q, %q", m.Subject, m.Body, tc.subject, tc.body)
			}
			h := m.Header
			if got := h.Get("Message-ID"); got != "<0190f000-0000-7000-8000-000000000001@isac.example.jp>" {
				t.Errorf("Message-ID = %q", got)
			}
			if d, err := h.Date(); err != nil || !d.Equal(date) || !strings.HasSuffix(h.Get("Date"), "+0900") {
				t.Errorf("Date = %q (%v)", h.Get("Date"), err)
			}
			if h.Get("Content-Type") != "text/plain; charset=UTF-8" || h.Get("MIME-Version") != "1.0" {
				t.Errorf("MIME headers: %v", h)
			}
			from, err := h.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != testFrom.Name || from[0].Address != testFrom.Address {
				t.Errorf("From = %v, %v", from, err)
			}
			to, err := h.AddressList("To")
			want, _ := mail.ParseAddress(tc.msg.To)
			if err != nil || len(to) != 1 || *to[0] != *want {
				t.Errorf("To = %v, %v; want %v", to, err, want)
			}
		})
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	tests := []struct {
		name  string
		msg   Message
		field string
	}{
		{"CRLF in To", Message{To: "a@b.example\r\nBcc: victim@example.jp", Subject: "s", Body: "b"}, "to"},
		{"LF in To name", Message{To: "\"x\nBcc: v@example.jp\" <a@b.example>", Subject: "s", Body: "b"}, "to"},
		{"CR in Subject", Message{To: "a@b.example", Subject: "hi\rBcc: victim@example.jp", Body: "b"}, "subject"},
		{"LF in Subject", Message{To: "a@b.example", Subject: "hi\nBcc: victim@example.jp", Body: "b"}, "subject"},
		{"two recipients", Message{To: "a@b.example, c@d.example", Subject: "s", Body: "b"}, "to"},
		{"not an address", Message{To: "yamada", Subject: "s", Body: "b"}, "to"},
		{"non-ASCII address", Message{To: "山田@clinic.example.jp", Subject: "s", Body: "b"}, "to"},
		{"empty subject", Message{To: "a@b.example", Subject: "  ", Body: "b"}, "subject"},
		{"invalid UTF-8", Message{To: "a@b.example", Subject: "s", Body: "\xff\xfe"}, "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(testFrom, tc.msg, "id", time.Now())
			ae := apperr.From(err)
			if err == nil || ae.Code != apperr.Invalid || ae.Field != tc.field {
				t.Fatalf("build = %v; want Invalid on %s", err, tc.field)
			}
		})
	}
}

func FuzzBuildMessage(f *testing.F) {
	f.Add("a@b.example", "Hello", "body")
	f.Add("山田 <yamada@clinic.example.jp>", "【重要】お知らせ", "本文\r\n.\r\n終わり")
	f.Add("\"x\" <a@b.example>", "=?UTF-8?Q?x?=", "")
	f.Add("a@b.example", strings.Repeat("あ", 200), strings.Repeat("い", 5000))
	f.Add("a@b.example\nBcc: x@y", "s\r\n", "\x00")
	f.Fuzz(func(t *testing.T, to, subject, body string) {
		msg := Message{To: to, Subject: subject, Body: body}
		raw, err := build(testFrom, msg, "0190f000-0000-7000-8000-000000000001", time.Unix(1e9, 0))
		if err != nil {
			if apperr.From(err).Code == apperr.Internal {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		m, err := smtptest.Parse(raw)
		if err != nil {
			t.Fatalf("built message does not parse: %v\n%s", err, raw)
		}
		wantBody := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
		if m.Subject != subject || m.Body != wantBody {
			t.Fatalf("round trip: subject %q body %q; want %q, %q", m.Subject, m.Body, subject, wantBody)
		}
		if len(m.Header["Subject"]) != 1 || len(m.Header["To"]) != 1 || m.Header["Bcc"] != nil {
			t.Fatalf("headers changed by input: %v", m.Header)
		}
	})
}
