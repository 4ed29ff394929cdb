package share

import (
	"context"
	"fmt"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestListPostsSearchFillsPages: the search index finds candidates that
// the text check then drops ("東京と京都" has both bi-grams of "東京都"
// but not the word). A page of the newest candidates that all fail the
// check used to come back empty, with no next page, though older posts
// matched; the listing now reads on until the page is full, and pages
// follow each other without gap or repeat.
func TestListPostsSearchFillsPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d)
		var want []string
		for i := 0; i < 5; i++ {
			p := must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: fmt.Sprintf("東京都の病院への注意喚起 %d", i)}, t0))
			want = append([]string{p.ID}, want...)
		}
		for i := 0; i < 7; i++ {
			must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindAdvisory, TLP: TLPGreen, Title: fmt.Sprintf("東京と京都の連絡会 %d", i)}, t0))
		}
		var got []string
		before := ""
		for pages := 0; pages < 10; pages++ {
			ps := must[[]*Post](t)(ListPosts(ctx, d, w.author, Filter{Query: "東京都", Limit: 3, Before: before}))
			if pages == 0 && len(ps) != 3 {
				t.Fatalf("first page has %d posts, want 3", len(ps))
			}
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if len(ps) < 3 {
				break
			}
			before = ps[len(ps)-1].ID
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages gave %v, want %v", got, want)
		}
	})
}

// TestListPostsLargestPage: the API asks one more than its largest page
// (500) to know whether another follows; that request used to fall back
// to 50 posts, so a page of 500 ended after 50 with no next page.
func TestListPostsLargestPage(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	w := newWorld(t, d)
	for i := 0; i < 60; i++ {
		must[*Post](t)(CreatePost(ctx, d, w.author, PostInput{Kind: KindQuestion, TLP: TLPGreen, Title: fmt.Sprintf("相談 %d", i)}, t0))
	}
	if ps := must[[]*Post](t)(ListPosts(ctx, d, w.author, Filter{Mine: true, Limit: maxPostList + 1})); len(ps) != 60 {
		t.Errorf("a listing of %d gave %d posts, want all 60", maxPostList+1, len(ps))
	}
}
