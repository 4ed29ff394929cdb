package web

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
)

func FuzzParseTokenExpiry(f *testing.F) {
	for _, s := range []string{"", "2026-05-01", "２０２６－０５－０１", "2026-02-30", "2027-12-31", "1999-01-01", "2026-05-01T00:00", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		exp, err := parseTokenExpiry(s, now)
		if err != nil {
			if ae := apperr.From(err); ae.Code != apperr.Invalid || ae.Field != "expires_at" {
				t.Fatalf("error %v is not about expires_at", err)
			}
			return
		}
		if !exp.After(now) || exp.Sub(now) > tokenMaxDays*24*time.Hour {
			t.Fatalf("expiry %v accepted for %q", exp, s)
		}
	})
}

func FuzzParseOrgForm(f *testing.F) {
	f.Add("hospital", "北町総合病院", "キタマチ", "東京都", "1312345", "200", "admins")
	f.Add("clinic", "", "", "", "１３１－２３４５", "２００", "everyone")
	f.Add("x", "a", "b", "c", "d", "-1", "z")
	f.Add("isac", strings.Repeat("名", 300), "ｶﾀｶﾅ", "大阪府", "12345678901", "99999999999999999999", "")
	f.Fuzz(func(t *testing.T, kind, name, kana, pref, code, beds, policy string) {
		in, err := parseOrgForm(url.Values{"kind": {kind}, "name": {name}, "name_kana": {kana}, "prefecture": {pref},
			"medical_code": {code}, "beds": {beds}, "mfa_policy": {policy}})
		if err != nil {
			if ae := apperr.From(err); ae.Field != "beds" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if err := in.Validate(); err != nil {
			if ae := apperr.From(err); ae.Code != apperr.Invalid || ae.Field == "" {
				t.Fatalf("validation error %v names no field", err)
			}
		}
	})
}

func FuzzLangReturn(f *testing.F) {
	for _, s := range []string{"/", "/account/tokens", "/admin/orgs/0190/invites", "//evil", "/\\evil", "https://evil", "/org/members/x/role", "/signout", "", "/\t/evil", "/%09/evil", "/%5cevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := langReturn(safeNext(s))
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n\t\\ ") {
			t.Fatalf("langReturn(safeNext(%q)) = %q leaves the site", s, got)
		}
	})
}

func FuzzLinkParts(f *testing.F) {
	f.Add("次のリンクを開いてください。\nhttp://127.0.0.1:8080/invite/abc\n\nEnglish http://127.0.0.1:8080/reset/x.")
	f.Add("http://evil.example/invite/x http://127.0.0.1:8080")
	f.Add("")
	s := &Server{Deps: Deps{BaseURL: "http://127.0.0.1:8080"}}
	f.Fuzz(func(t *testing.T, body string) {
		var b strings.Builder
		for _, p := range s.linkParts(body) {
			if p.Link && !strings.HasPrefix(p.Text, s.BaseURL) {
				t.Fatalf("foreign link %q made clickable", p.Text)
			}
			b.WriteString(p.Text)
		}
		if b.String() != body && utf8.ValidString(body) {
			t.Fatalf("parts do not add up to the body")
		}
	})
}
