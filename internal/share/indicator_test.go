package share

import (
	"context"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestNormalizeIOC(t *testing.T) {
	cases := []struct {
		t    IOCType
		in   string
		want string
	}{
		{IOCIP, "203[.]0[.]113[.]7", "203.0.113.7"},
		{IOCIP, " 198.51.100.1 ", "198.51.100.1"},
		{IOCIP, "::ffff:192.0.2.1", "192.0.2.1"},
		{IOCIP, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
		{IOCIP, "223.166.0.0/15", "223.166.0.0/15"},
		{IOCDomain, "Evil-Example[.]COM.", "evil-example.com"},
		{IOCDomain, "例え.テスト", "xn--r8jz45g.xn--zckzah"},
		{IOCDomain, "ＥＸＡＭＰＬＥ．ｊｐ", "example.jp"},
		{IOCURL, "hxxp://Evil[.]Example.com/Path?a=1#frag", "http://evil.example.com/Path?a=1"},
		{IOCURL, "hXXps[://]bad.example.jp:443", "https://bad.example.jp/"},
		{IOCURL, "evil.example.com/dl.exe", "http://evil.example.com/dl.exe"},
		{IOCURL, "http://user:pw@198.51.100.3:8080/x", "http://198.51.100.3:8080/x"},
		{IOCURL, "https://病院.example/ログイン", "https://xn--0rys90e.example/%E3%83%AD%E3%82%B0%E3%82%A4%E3%83%B3"},
		{IOCHash, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{IOCEmail, "Attacker[@]Evil[.]Example.COM", "attacker@evil.example.com"},
		{IOCFilename, "Invoice.PDF.exe", "invoice.pdf.exe"},
	}
	for _, c := range cases {
		got, err := NormalizeIOC(c.t, c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeIOC(%s, %q) = %q, %v; want %q", c.t, c.in, got, err, c.want)
		}
	}
	bad := []struct {
		t  IOCType
		in string
	}{
		{IOCIP, "999.1.1.1"}, {IOCDomain, "no-dot"}, {IOCDomain, "a b.com"}, {IOCHash, "xyz"}, {IOCHash, "abcd"},
		{IOCEmail, "nobody"}, {IOCFilename, "C:\\x\\y.exe"}, {IOCURL, "http://"}, {IOCIP, "1.2.3.4\n5"}, {"nope", "x"},
	}
	for _, c := range bad {
		if got, err := NormalizeIOC(c.t, c.in); err == nil {
			t.Errorf("NormalizeIOC(%s, %q) = %q, want an error", c.t, c.in, got)
		}
	}
}

func TestDetectIOC(t *testing.T) {
	for in, want := range map[string]IOCType{
		"203.0.113.7": IOCIP, "2001:db8::1": IOCIP, "evil[.]example.com": IOCDomain, "hxxp://x.example/a": IOCURL,
		"x.example/a": IOCURL, "a@b.example": IOCEmail, "d41d8cd98f00b204e9800998ecf8427e": IOCHash,
		"invoice.exe": IOCFilename, "請求書.docm": IOCFilename,
	} {
		if got := DetectIOC(in); got != want {
			t.Errorf("DetectIOC(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzNormalizeIOC(f *testing.F) {
	for _, s := range []string{"hxxp://evil[.]example.com/a", "203[.]0.113.7", "例え.テスト", "a[@]b[.]c", "::ffff:1.2.3.4", "x/y", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range IOCTypes {
			n, err := NormalizeIOC(typ, s)
			if err != nil {
				continue
			}
			// Normal forms are fixed points.
			if n2, err := NormalizeIOC(typ, n); err != nil || n2 != n {
				t.Fatalf("%s %q → %q → %q, %v", typ, s, n, n2, err)
			}
			_ = Pattern(typ, n)
		}
		_ = DetectIOC(s)
	})
}

func TestCorrelationAndWarnings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		mk := func(v Viewer, tlp TLP, title string, iocs ...IndicatorInput) *Post {
			in := PostInput{Kind: KindIndicatorSet, TLP: tlp, Title: title, Indicators: iocs}
			if tlp == TLPAmber {
				in.RecipientOrgs = []string{w.recipientOrg}
			}
			return must[*Post](t)(CreatePost(ctx, d, v, in, t0))
		}
		a := mk(w.author, TLPGreen, "フィッシングメール",
			IndicatorInput{Type: IOCURL, Value: "hxxp://Phish[.]example.net/login"},
			IndicatorInput{Type: IOCIP, Value: "8.8.8.8"},
			IndicatorInput{Value: "10.1.2.3"},
			IndicatorInput{Value: "update.microsoft.com"},
			IndicatorInput{Value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
		b := mk(w.other, TLPGreen, "同じURLを観測", IndicatorInput{Value: "http://phish.example.net/login"})
		c := mk(w.recipient, TLPAmber, "AMBERでも観測", IndicatorInput{Value: "http://PHISH.example.net:80/login#x"})

		warn := map[string]string{}
		for _, i := range a.Indicators {
			warn[i.Norm] = i.Warning
		}
		for v, list := range map[string]string{"8.8.8.8": "public_dns", "10.1.2.3": "private_network",
			"update.microsoft.com": "benign_domain", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855": "empty_file",
			"http://phish.example.net/login": ""} {
			if warn[v] != list {
				t.Errorf("warning of %s = %q, want %q", v, warn[v], list)
			}
		}
		// The other member sees b's correlation, not the AMBER post it
		// may not read; the recipient sees both.
		ids := func(cs []Correlation) string {
			var s []string
			for _, c := range cs {
				s = append(s, c.PostID)
			}
			return strings.Join(s, ",")
		}
		if got := ids(must[[]Correlation](t)(Correlations(ctx, d, w.other, a.ID, 0))); got != b.ID {
			t.Errorf("other member's correlations %s, want %s", got, b.ID)
		}
		got := ids(must[[]Correlation](t)(Correlations(ctx, d, w.recipient, a.ID, 0)))
		if !strings.Contains(got, b.ID) || !strings.Contains(got, c.ID) {
			t.Errorf("recipient's correlations %s, want %s and %s", got, b.ID, c.ID)
		}
		// Counts are of the posts the reader may see: the author of a
		// does not learn of c (AMBER to the recipient only); the
		// recipient counts all three.
		for _, x := range []struct {
			v    Viewer
			want int64
		}{{w.author, 2}, {w.recipient, 3}} {
			p := must[*Post](t)(GetPost(ctx, d, x.v, a.ID))
			for _, i := range p.Indicators {
				if i.Type == IOCURL && i.PostCount != x.want {
					t.Errorf("post count of the URL for %s: %d, want %d", x.v.OrgID, i.PostCount, x.want)
				}
			}
		}
		// Operators add and switch off entries; members cannot.
		if _, err := AddWarning(ctx, d, w.author, "x", "domain", "a.example", t0); errKey(err) != "share.warning.operators_only" {
			t.Errorf("member adds warning: %v", err)
		}
		wn := must[*Warning](t)(AddWarning(ctx, d, w.op, "院内システム", "domain", "Karte.Example.JP", t0))
		if wn.Value != "karte.example.jp" {
			t.Errorf("warning value %q", wn.Value)
		}
		if err := SetWarningDisabled(ctx, d, w.op, "wl-public-dns-1", true); err != nil {
			t.Fatal(err)
		}
		x := mk(w.author, TLPGreen, "再確認", IndicatorInput{Value: "8.8.8.8"}, IndicatorInput{Value: "https://portal.karte.example.jp/"})
		for _, i := range x.Indicators {
			want := map[string]string{"8.8.8.8": "", "https://portal.karte.example.jp/": "院内システム"}[i.Norm]
			if i.Warning != want {
				t.Errorf("after edits, warning of %s = %q, want %q", i.Norm, i.Warning, want)
			}
		}
	})
}
