package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
)

func seedList(t *testing.T, l *Log, d *db.DB) {
	t.Helper()
	ctx := context.Background()
	add := func(org, action, outcome, actor, obj string) {
		if _, err := l.Append(ctx, d, Entry{OrgID: org, Action: action, Outcome: outcome, Actor: actor, ActorID: "id-" + actor, ObjectID: obj, ObjectType: "user"}); err != nil {
			t.Fatal(err)
		}
	}
	add("org-a", ActionSignIn, Success, "Alice@clinic.jp", "u1")           // 1
	add("org-b", ActionSignIn, Success, "bob@hospital.jp", "u2")           // 2
	add("org-a", ActionSignInFailed, Failure, "alice@clinic.jp", "u1")     // 3
	add("", ActionSignInFailed, Failure, "nobody@x.jp", "")                // 4
	add("org-a", ActionMemberAdd, Success, "a_b@clinic.jp", "u3")          // 5
	add("org-a", ActionMemberRole, Denied, "axb@clinic.jp", "u3")          // 6
	add("org-a", "authx.signin", Success, "alice@clinic.jp", "u1")         // 7
	add("org-b", ActionMemberRemove, Success, "bob@hospital.jp", "u2")     // 8
	add("org-a", ActionAuditExport, Success, "=cmd|' /C calc'!A0", "+1-2") // 9
}

func seqs(es []Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := newClock() // entry n is at 2026-04-01 08:59:00.123456 + n s
		l := New(d, signer(t), nil, clk.now)
		seedList(t, l, d)
		base := time.Date(2026, 4, 1, 8, 59, 0, 123456000, time.UTC)
		cases := []struct {
			name string
			org  string
			f    Filter
			want []int64
		}{
			{"all of org a", "org-a", Filter{}, []int64{9, 7, 6, 5, 3, 1}},
			{"all of org b", "org-b", Filter{}, []int64{8, 2}},
			{"unknown org", "org-c", Filter{}, []int64{}},
			{"action group", "org-a", Filter{ActionPrefix: "auth"}, []int64{3, 1}},
			{"action and below", "org-a", Filter{ActionPrefix: "auth.signin"}, []int64{3, 1}},
			{"exact leaf", "org-a", Filter{ActionPrefix: "auth.signin.failed"}, []int64{3}},
			{"member", "org-a", Filter{ActionPrefix: "org.member"}, []int64{6, 5}},
			{"actor substring any case", "org-a", Filter{Actor: "ALICE"}, []int64{7, 3, 1}},
			{"actor underscore is literal", "org-a", Filter{Actor: "a_b"}, []int64{5}},
			{"actor percent is literal", "org-a", Filter{Actor: "%"}, []int64{}},
			{"actor id", "org-a", Filter{ActorID: "id-alice@clinic.jp"}, []int64{7, 3}},
			{"outcome", "org-a", Filter{Outcome: Denied}, []int64{6}},
			{"object", "org-a", Filter{ObjectID: "u3"}, []int64{6, 5}},
			{"object type", "org-a", Filter{ObjectType: "user", ObjectID: "u1"}, []int64{7, 3, 1}},
			{"from inclusive", "org-a", Filter{From: base.Add(5 * time.Second)}, []int64{9, 7, 6, 5}},
			{"to exclusive", "org-a", Filter{To: base.Add(5 * time.Second)}, []int64{3, 1}},
			{"window", "org-a", Filter{From: base.Add(3 * time.Second), To: base.Add(7 * time.Second)}, []int64{6, 5, 3}},
			{"before cursor", "org-a", Filter{BeforeSeq: 6}, []int64{5, 3, 1}},
			{"limit", "org-a", Filter{Limit: 2}, []int64{9, 7}},
			{"offset", "org-a", Filter{Limit: 2, Offset: 2}, []int64{6, 5}},
			{"other org's object", "org-a", Filter{ObjectID: "u2"}, []int64{}},
		}
		for _, c := range cases {
			got, err := l.List(ctx, c.org, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !reflect.DeepEqual(seqs(got), c.want) {
				t.Errorf("%s: got %v, want %v", c.name, seqs(got), c.want)
			}
			for _, e := range got {
				if e.OrgID != c.org {
					t.Errorf("%s: entry %d of org %q", c.name, e.Seq, e.OrgID)
				}
			}
		}
		got, err := l.List(ctx, "org-a", Filter{ObjectID: "u3", Outcome: Success})
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		e := got[0]
		if e.Action != ActionMemberAdd || e.Actor != "a_b@clinic.jp" || !e.At.Equal(base.Add(5*time.Second)) || e.Hash == "" || e.PrevHash == "" {
			t.Fatalf("entry round trip: %+v", e)
		}
	})
}

func TestParseFilter(t *testing.T) {
	jst := func(y, m, d, h, min int) time.Time { return time.Date(y, time.Month(m), d, h, min, 0, 0, i18n.Tokyo) }
	cases := []struct {
		q     string
		want  Filter
		field string
	}{
		{"", Filter{}, ""},
		{"action=auth.&actor=+Alice+&outcome=failure&object=u1&object_type=user",
			Filter{ActionPrefix: "auth", Actor: "Alice", Outcome: Failure, ObjectID: "u1", ObjectType: "user"}, ""},
		{"from=2026-04-01&to=2026-04-30", Filter{From: jst(2026, 4, 1, 0, 0), To: jst(2026, 5, 1, 0, 0)}, ""},
		{"from=2026-04-01T09:30&to=2026-04-01T18:00", Filter{From: jst(2026, 4, 1, 9, 30), To: jst(2026, 4, 1, 18, 0)}, ""},
		{"before=120&limit=50&offset=0", Filter{BeforeSeq: 120, Limit: 50}, ""},
		{"action=auth%25", Filter{}, "action"},
		{"action=DROP TABLE", Filter{}, "action"},
		{"outcome=maybe", Filter{}, "outcome"},
		{"from=2026/04/01", Filter{}, "from"},
		{"to=tomorrow", Filter{}, "to"},
		{"from=2026-04-02&to=2026-04-01", Filter{}, "to"},
		{"limit=5000", Filter{}, "limit"},
		{"offset=-1", Filter{}, "offset"},
		{"before=x", Filter{}, "before"},
	}
	for _, c := range cases {
		v, _ := url.ParseQuery(c.q)
		got, err := ParseFilter(v)
		if c.field != "" {
			if ae := apperr.From(err); err == nil || ae.Field != c.field || ae.Code != apperr.Invalid {
				t.Errorf("%q: err %v, want field %s", c.q, err, c.field)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		if !got.From.Equal(c.want.From) || !got.To.Equal(c.want.To) {
			t.Errorf("%q: times %v %v", c.q, got.From, got.To)
		}
		got.From, got.To, c.want.From, c.want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.q, got, c.want)
		}
		// Values round-trips through ParseFilter.
		again, err := ParseFilter(func() url.Values { f, _ := ParseFilter(v); return f.Values() }())
		orig, _ := ParseFilter(v)
		if err != nil || !again.From.Equal(orig.From) || !again.To.Equal(orig.To) || again.Actor != orig.Actor || again.BeforeSeq != orig.BeforeSeq {
			t.Errorf("%q: Values round trip %+v, %v", c.q, again, err)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "action=auth&actor=a&outcome=success&from=2026-04-01&to=2026-04-02T10:00&before=3&limit=10&offset=1",
		"action=..", "from=2026-02-30", "actor=%00%ff", "limit=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		got, err := ParseFilter(v)
		if err != nil {
			if ae := apperr.From(err); ae.Code != apperr.Invalid || ae.Field == "" {
				t.Fatalf("error without field: %v", err)
			}
			return
		}
		if got.Limit < 0 || got.Limit > MaxLimit || got.Offset < 0 || got.BeforeSeq < 0 {
			t.Fatalf("out of range: %+v", got)
		}
		if got.ActionPrefix != "" && !ValidAction(got.ActionPrefix) {
			t.Fatalf("bad action accepted: %q", got.ActionPrefix)
		}
		if _, err := ParseFilter(got.Values()); err != nil {
			t.Fatalf("Values not parseable: %v", err)
		}
	})
}

func TestWriteCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := New(d, signer(t), i18n.MustLoad(), newClock().now)
		seedList(t, l, d)
		var buf bytes.Buffer
		if err := l.WriteCSV(ctx, &buf, "org-a", Filter{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if !bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
			t.Fatal("no BOM")
		}
		if !bytes.Contains(b, []byte("\r\n")) {
			t.Fatal("no CRLF")
		}
		recs, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 7 {
			t.Fatalf("%d rows, want header + 6 (limit ignored)", len(recs))
		}
		if recs[0][0] != "連番" || recs[0][1] != "日時（日本時間）" || recs[0][2] != "日時（UTC）" {
			t.Fatalf("header %q", recs[0])
		}
		first := recs[1] // newest: seq 9, the formula attempt
		if first[0] != "9" || first[1] != "2026-04-01 17:59:09" || first[2] != "2026-04-01T08:59:09.123456Z" {
			t.Fatalf("times: %q", first[:3])
		}
		if first[3] != "'=cmd|' /C calc'!A0" || first[9] != "'+1-2" {
			t.Fatalf("formula not neutralised: %q", first)
		}
		if first[5] != "監査ログの書き出し" || first[6] != ActionAuditExport || first[7] != "成功" {
			t.Fatalf("labels: %q", first[5:8])
		}
		for _, r := range recs[1:] {
			if strings.Contains(strings.Join(r, ","), "bob@") || r[3] == "nobody@x.jp" {
				t.Fatalf("other org's row: %q", r)
			}
		}
		buf.Reset()
		if err := l.WriteCSV(ctx, &buf, "org-a", Filter{Outcome: Denied}); err != nil {
			t.Fatal(err)
		}
		if recs, _ := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll(); len(recs) != 2 || recs[1][0] != "6" {
			t.Fatalf("filtered export: %q", recs)
		}
		if err := l.WriteCSV(ctx, &buf, "", Filter{}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("export without org: %v", err)
		}
	})
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"plain":        "plain",
		"=1+1":         "'=1+1",
		"+81-3":        "'+81-3",
		"-2":           "-2", // a plain number stays a number (see csvsafe)
		"-2+3":         "'-2+3",
		"@SUM(A1)":     "'@SUM(A1)",
		"\tx":          "'\tx",
		"\rx":          "'\rx",
		"＝1+1":         "'＝1+1",
		"a=b":          "a=b",
		"2026-04-01":   "2026-04-01",
		"山田@clinic.jp": "山田@clinic.jp",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{"=HYPERLINK(\"http://x\")", "+", "-", "@", "\t", "\r\n=1", "a\"b,c\nd", "＋"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cell := SafeCell(s)
		if cell != s && cell != "'"+s {
			t.Fatalf("SafeCell changed the text: %q", cell)
		}
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Fatalf("formula start kept: %q", cell)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{cell, "x"})
		w.Flush()
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != 1 || len(recs[0]) != 2 {
			t.Fatalf("round trip %q: %q %v", cell, recs, err)
		}
	})
}
