package taxii

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/share"
)

// TestTAXIIClientPullsFromAnotherServer federates two medisac instances:
// a regional ISAC's server publishes posts over TAXII, and a hospital
// group's instance pulls the GREEN collection with a token. Only what the
// token's organisation may see arrives; a second pull fetches only what is
// new; a wrong token leaves an error on the feed and imports nothing.
func TestTAXIIClientPullsFromAnotherServer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, remote *db.DB) {
		ctx := context.Background()
		f := newFixture(t, remote)
		ts := httptest.NewServer(f.srv)
		defer ts.Close()
		f.post(t, share.TLPGreen, "VPN装置の脆弱性を悪用した攻撃", "203.0.113.45", "evil-update.example.net")
		f.post(t, share.TLPAmber, "特定病院向けの注意喚起", "198.51.100.7")

		local := dbtest.SQLite(t)
		o, err := auth.CreateOrg(ctx, local, auth.OrgInput{Kind: auth.KindISAC, Name: "地域医療ISAC事務局"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		u, err := auth.CreateUser(ctx, local, auth.NewUser{Email: "it@honbu.example.jp", DisplayName: "情報システム"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.AddMember(ctx, local, o.ID, u.ID, auth.RoleAdmin, t0); err != nil {
			t.Fatal(err)
		}
		v := share.Viewer{OrgID: o.ID, UserID: u.ID, Operator: true, Admin: true, Write: true}
		now := t0.Add(time.Hour)
		hub := &share.Hub{DB: local, Now: func() time.Time { return now }}

		objectsURL := ts.URL + green + "objects/"
		feed, err := share.AddFeed(ctx, local, v, "地域ISAC", objectsURL, "", f.other.token, share.TLPGreen, 60, now)
		if err != nil {
			t.Fatal(err)
		}
		n, err := hub.Pull(ctx, feed.ID)
		if err != nil || n == 0 {
			t.Fatalf("first pull: %d objects, %v", n, err)
		}
		posts, err := share.ListPosts(ctx, local, v, share.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, p := range posts {
			titles = append(titles, p.Title)
		}
		if len(posts) != 1 || posts[0].Title != "VPN装置の脆弱性を悪用した攻撃" || posts[0].TLP != share.TLPGreen {
			t.Fatalf("pulled posts %q, want only the GREEN one", titles)
		}

		// A new post on the remote side arrives with the next pull; the old
		// one is not fetched again.
		f.now = f.now.Add(time.Minute)
		f.post(t, share.TLPGreen, "フィッシングメールの報告", "phish.example.org")
		if n, err = hub.Pull(ctx, feed.ID); err != nil || n == 0 {
			t.Fatalf("second pull: %d objects, %v", n, err)
		}
		posts, _ = share.ListPosts(ctx, local, v, share.Filter{})
		if len(posts) != 2 {
			t.Fatalf("after the second pull: %d posts, want 2", len(posts))
		}

		bad, err := share.AddFeed(ctx, local, v, "誤ったトークン", objectsURL, "", "msac_wrong", share.TLPGreen, 60, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hub.Pull(ctx, bad.ID); err == nil {
			t.Fatal("pull with a wrong token succeeded")
		}
		feeds, _ := share.ListFeeds(ctx, local, v)
		for _, fd := range feeds {
			if fd.ID == bad.ID && fd.LastError == "" {
				t.Fatal("the failed pull left no error on the feed")
			}
		}
		if posts, _ = share.ListPosts(ctx, local, v, share.Filter{}); len(posts) != 2 {
			t.Fatalf("a failed pull changed the posts: %d", len(posts))
		}
	})
}
