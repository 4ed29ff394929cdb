package share

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

func TestFanoutAndGroupedMail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		mailer := must[*notify.Mailer](t)(notify.NewMailer(d, nil, nil, func() time.Time { return t0 }))
		h := &Hub{DB: d, Mailer: mailer, Catalog: i18n.MustLoad(), BaseURL: "https://isac.example.jp", Now: func() time.Time { return t0 }}
		// The other member wants GREEN advisories at once.
		if err := SetSubscription(ctx, d, w.other, Subscription{ImmediateTLP: []TLP{TLPGreen}, Digest: true}, t0); err != nil {
			t.Fatal(err)
		}
		var posts []*Post
		for _, label := range []TLP{TLPGreen, TLPGreen, TLPAmber, TLPRed} {
			p := matrixPost(t, d, w, label)
			posts = append(posts, p)
			if err := EnqueueFanout(ctx, d, nil, nil, p.ID, t0); err != nil {
				t.Fatal(err)
			}
			if n := must[int64](t)(Fanout(ctx, d, nil, p.ID, t0)); n != 0 {
				t.Errorf("second fan-out added %d", n)
			}
		}
		mode := func(v Viewer, p *Post) string {
			var m string
			err := d.QueryRow(ctx, `SELECT mode FROM share_notifications WHERE user_id = ? AND post_id = ?`, v.UserID, p.ID).Scan(&m)
			if db.ScanErr(err) == db.ErrNotFound {
				return "-"
			}
			return m
		}
		cases := []struct {
			who  string
			v    Viewer
			post int
			want string
		}{
			{"author gets nothing", w.author, 0, "-"},
			{"colleague: GREEN in digest", w.colleague, 0, "digest"},
			{"other member chose GREEN at once", w.other, 0, "immediate"},
			{"recipient: AMBER at once by default", w.recipient, 2, "immediate"},
			{"other member: not an AMBER recipient", w.other, 2, "-"},
			{"named person: RED at once", w.named, 3, "immediate"},
			{"colleague: not named on RED", w.colleague, 3, "-"},
			{"operator: GREEN in digest", w.op, 1, "digest"},
		}
		for _, c := range cases {
			if got := mode(c.v, posts[c.post]); got != c.want {
				t.Errorf("%s: %s, want %s", c.who, got, c.want)
			}
		}
		// Immediate dispatch: one e-mail per person, whatever the count.
		n := must[int](t)(h.Dispatch(ctx, "immediate"))
		// other (2 GREEN), colleague, recipient and group member (AMBER),
		// named person (RED).
		if n != 5 {
			t.Errorf("%d immediate e-mails, want 5", n)
		}
		if n := must[int](t)(h.Dispatch(ctx, "immediate")); n != 0 {
			t.Errorf("second dispatch sent %d", n)
		}
		box := must[[]notify.Stored](t)(mailer.Outbox(ctx, w.otherOrg, 10))
		if len(box) != 1 || !strings.HasPrefix(box[0].Subject, "TLP:GREEN") || !strings.Contains(box[0].Body, "/share/posts/"+posts[0].ID) {
			t.Errorf("other member's mail: %+v", box)
		}
		red := must[[]notify.Stored](t)(mailer.Outbox(ctx, w.namedOrg, 10))
		if len(red) != 1 || !strings.HasPrefix(red[0].Subject, "TLP:RED") {
			t.Errorf("named person's mail: %+v", red)
		}
		if n := must[int](t)(h.Dispatch(ctx, "digest")); n < 3 {
			t.Errorf("%d digests", n)
		}
	})
}

// orgChecker is a test double of the vulnerability capability's checker:
// the organisations in affected have devices hit by any CVE; it counts the
// questions it is asked.
type orgChecker struct {
	affected map[string]bool
	calls    map[string]int
}

func (c *orgChecker) Affected(ctx context.Context, q db.Querier, orgID string, cves []string) (AffectedResult, error) {
	c.calls[orgID]++
	if c.affected[orgID] && len(cves) > 0 {
		return AffectedResult{State: AffectedYes, Assets: []string{"VPN装置"}}, nil
	}
	return AffectedResult{State: AffectedNo}, nil
}

// setChecker is the set-based form of orgChecker.
type setChecker struct{ orgChecker }

func (c *setChecker) OrgsAffected(ctx context.Context, q db.Querier, orgs, cves []string) ([]string, error) {
	var out []string
	for _, o := range orgs {
		c.calls[o]++
		if c.affected[o] {
			out = append(out, o)
		}
	}
	return out, nil
}

func TestFanoutNamingDevices(t *testing.T) {
	for _, set := range []bool{false, true} {
		name := "per-organisation checker"
		if set {
			name = "set-based checker"
		}
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				ctx := context.Background()
				w := newWorld(t, d)
				mailer := must[*notify.Mailer](t)(notify.NewMailer(d, nil, nil, func() time.Time { return t0 }))
				h := &Hub{DB: d, Mailer: mailer, Catalog: i18n.MustLoad(), BaseURL: "https://isac.example.jp", Now: func() time.Time { return t0 }}
				// A second person of the other member, and choices: the
				// recipient opted out of device alerts, the group member
				// opted in explicitly, the rest keep the default (in).
				other2 := newPerson(t, d, w.otherOrg, "o2@hikari.example.jp", false, false)
				for _, c := range []struct {
					v   Viewer
					sub Subscription
				}{
					{w.recipient, Subscription{Digest: true}},
					{w.groupMember, Subscription{ImmediateDevices: true}},
				} {
					if err := SetSubscription(ctx, d, c.v, c.sub, t0); err != nil {
						t.Fatal(err)
					}
				}
				if s := must[Subscription](t)(GetSubscription(ctx, d, w.groupMember)); !s.ImmediateDevices || s.Digest || len(s.ImmediateKinds) != 0 {
					t.Errorf("stored choice read back as %+v", s)
				}
				if s := must[Subscription](t)(GetSubscription(ctx, d, w.other)); !s.ImmediateDevices {
					t.Errorf("default subscription without device alerts: %+v", s)
				}

				post := func(title string, cves ...string) *Post {
					return must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: title, CVEs: cves}, t0))
				}
				mode := func(v Viewer, p *Post) string {
					var m string
					if err := d.QueryRow(ctx, `SELECT mode FROM share_notifications WHERE user_id = ? AND post_id = ?`, v.UserID, p.ID).Scan(&m); err != nil {
						t.Fatal(err)
					}
					return m
				}

				// Without a checker nothing is guessed.
				unchecked := post("チェッカーなし", "CVE-2024-21762")
				must[int64](t)(Fanout(ctx, d, nil, unchecked.ID, t0))
				if m := mode(w.other, unchecked); m != "digest" {
					t.Errorf("without a checker: %s, want digest", m)
				}

				oc := orgChecker{affected: map[string]bool{w.otherOrg: true, w.recipientOrg: true, w.groupOrg: true}, calls: map[string]int{}}
				var c AffectedChecker = &oc
				if set {
					sc := &setChecker{oc}
					c = sc
					defer func() { oc = sc.orgChecker }()
				}
				calls := func() map[string]int {
					if sc, ok := c.(*setChecker); ok {
						return sc.calls
					}
					return oc.calls
				}

				first := post("VPN装置の脆弱性", "CVE-2024-21762")
				second := post("同じVPN装置の追加の脆弱性", "CVE-2024-3400")
				plain := post("CVEのない注意喚起")
				for _, p := range []*Post{first, second, plain} {
					must[int64](t)(Fanout(ctx, d, c, p.ID, t0))
					// Running it again changes nothing and asks nothing new.
					must[int64](t)(Fanout(ctx, d, c, p.ID, t0))
				}
				cases := []struct {
					who  string
					v    Viewer
					p    *Post
					want string
				}{
					{"affected member, default choice", w.other, first, "immediate"},
					{"second person of the affected member", other2, second, "immediate"},
					{"affected recipient who opted out", w.recipient, first, "digest"},
					{"affected group member who opted in, no digest", w.groupMember, first, "immediate"},
					{"author's colleague, not affected", w.colleague, first, "digest"},
					{"operator, not affected", w.op, first, "digest"},
					{"affected member, post naming no CVE", w.other, plain, "digest"},
					{"affected member, post before the checker", w.other, unchecked, "digest"},
				}
				for _, tc := range cases {
					if got := mode(tc.v, tc.p); got != tc.want {
						t.Errorf("%s: %s, want %s", tc.who, got, tc.want)
					}
				}
				// One question per organisation and post naming CVEs
				// (two posts, the second fan-out of each asks only about
				// organisations still waiting); the opted-out recipient's
				// organisation is never asked.
				got := calls()
				if got[w.otherOrg] < 2 || got[w.otherOrg] > 4 || got[w.recipientOrg] != 0 {
					t.Errorf("checker questions: %v", got)
				}
				// Immediate e-mail stays grouped: one per person for both
				// posts.
				if n := must[int](t)(h.Dispatch(ctx, "immediate")); n != 3 {
					t.Errorf("%d immediate e-mails, want 3 (two people of the member, the group member)", n)
				}
				box := must[[]notify.Stored](t)(mailer.Outbox(ctx, w.otherOrg, 10))
				if len(box) != 2 {
					t.Fatalf("affected member's mails: %d", len(box))
				}
				for _, m := range box {
					if !strings.Contains(m.Body, first.ID) || !strings.Contains(m.Body, second.ID) || strings.Contains(m.Body, plain.ID) {
						t.Errorf("grouped mail does not list exactly the two posts: %s", m.Body)
					}
				}
			})
		})
	}
}
