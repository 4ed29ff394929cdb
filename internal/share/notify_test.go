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
			if err := EnqueueFanout(ctx, d, nil, p.ID, t0); err != nil {
				t.Fatal(err)
			}
			if n := must[int64](t)(Fanout(ctx, d, p.ID, t0)); n != 0 {
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
