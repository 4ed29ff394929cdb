package vuln

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// seedPagingFindings gives org n synthetic findings spread over assets:
// every priority, ranks drawn from a small set so that many findings tie
// on (priority, rank) and only the id orders them, and one in seven closed
// or settled. It returns the asset ids.
func seedPagingFindings(t testing.TB, d *db.DB, org string, n int) []string {
	t.Helper()
	var assets []string
	for i := range 12 {
		a := mustAsset(t, d, org, inventory.Asset{Name: fmt.Sprintf("機器%02d", i), Kind: inventory.KindNetwork, Vendor: "Example", Product: "Box"})
		assets = append(assets, a.ID)
	}
	seed.Findings(t, d, org, assets, n, t0, func(i int) seed.Finding {
		f := seed.Finding{Active: true, Priority: 1 + (i*7)%4, Rank: 1000 * ((i * 13) % 5)}
		switch i % 7 {
		case 3:
			f.State = "in_progress"
		case 5:
			f.State = "resolved"
		case 6:
			f.Active = false
		}
		return f
	})
	return assets
}

func ids(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// walkPages follows Next from the first page and checks the page facts.
func walkPages(t *testing.T, d *db.DB, org string, f FindingFilter, size int) ([]string, []FindingPage) {
	t.Helper()
	ctx := context.Background()
	var got []string
	var pages []FindingPage
	cursor := ""
	for range 10000 {
		p, err := PageFindings(ctx, d, org, f, cursor, size)
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		if len(p.Findings) > 0 && p.Start != len(got)+1 {
			t.Errorf("page %d starts at %d, want %d", len(pages)+1, p.Start, len(got)+1)
		}
		if (len(pages) == 0) != (p.Prev == "") {
			t.Errorf("page %d: prev cursor %q", len(pages)+1, p.Prev)
		}
		got = append(got, ids(p.Findings)...)
		pages = append(pages, p)
		if p.Next == "" {
			return got, pages
		}
		if len(p.Findings) != size {
			t.Errorf("page %d has %d findings and a next page", len(pages), len(p.Findings))
		}
		cursor = p.Next
	}
	t.Fatal("pages never end")
	return nil, nil
}

func TestPageFindings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "ページ病院", "東京都")
		other := newOrg(t, d, "別病院", "大阪府")
		assets := seedPagingFindings(t, d, org, 1200)
		seedPagingFindings(t, d, other, 150)
		cases := []struct {
			name   string
			filter FindingFilter
			size   int
			keep   func(Finding) bool
		}{
			{"open", FindingFilter{}, 100, func(f Finding) bool { return f.Open() }},
			{"all", FindingFilter{All: true}, 100, func(Finding) bool { return true }},
			{"all, odd size", FindingFilter{All: true}, 77, func(Finding) bool { return true }},
			{"priority 2", FindingFilter{Priority: 2}, 50, func(f Finding) bool { return f.Open() && f.Priority == 2 }},
			{"one asset, all", FindingFilter{AssetID: assets[3], All: true}, 30, func(f Finding) bool { return f.AssetID == assets[3] }},
			{"one vulnerability", FindingFilter{VulnID: "CVE-2099-00007", All: true}, 10, func(f Finding) bool { return f.VulnID == "CVE-2099-00007" }},
		}
		all, err := ListFindings(ctx, d, org, FindingFilter{All: true})
		if err != nil || len(all) != 1200 {
			t.Fatalf("seeded %d findings: %v", len(all), err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var want []string
				for _, f := range all {
					if tc.keep(f) {
						want = append(want, f.ID)
					}
				}
				list, err := ListFindings(ctx, d, org, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(list), want) {
					t.Fatalf("ListFindings with the filter is not the full list filtered (%d vs %d)", len(list), len(want))
				}
				got, pages := walkPages(t, d, org, tc.filter, tc.size)
				if !slices.Equal(got, want) {
					t.Fatalf("pages give %d findings, want %d in list order", len(got), len(want))
				}
				seen := map[string]bool{}
				for _, id := range got {
					if seen[id] {
						t.Fatalf("finding %s on two pages", id)
					}
					seen[id] = true
				}
				for i, p := range pages {
					if p.Total != len(want) {
						t.Errorf("page %d total %d, want %d", i+1, p.Total, len(want))
					}
				}
				// Back from the last page through Prev gives the same pages.
				last := pages[len(pages)-1]
				for i := len(pages) - 2; i >= 0 && last.Prev != ""; i-- {
					p, err := PageFindings(ctx, d, org, tc.filter, last.Prev, tc.size)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ids(p.Findings), ids(pages[i].Findings)) || p.Start != pages[i].Start {
						t.Fatalf("back to page %d: start %d, want %d", i+1, p.Start, pages[i].Start)
					}
					last = p
				}
				var each []string
				if err := EachFinding(ctx, d, org, tc.filter, func(f Finding) error { each = append(each, f.ID); return nil }); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(each, want) {
					t.Errorf("EachFinding gives %d findings, want %d in list order", len(each), len(want))
				}
			})
		}

		// A change between two requests never repeats or skips a finding
		// that did not change.
		p1, err := PageFindings(ctx, d, org, FindingFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, confidence, priority, rank, first_seen, changed_at) VALUES (?, ?, ?, 'CVE-2099-99999', 'exact', 1, 0, ?, ?)`,
			db.NewID(), org, assets[0], t0, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `UPDATE vuln_findings SET active = FALSE WHERE id = ?`, p1.Findings[99].ID); err != nil {
			t.Fatal(err)
		}
		p2, err := PageFindings(ctx, d, org, FindingFilter{}, p1.Next, 100)
		if err != nil {
			t.Fatal(err)
		}
		open, _ := ListFindings(ctx, d, org, FindingFilter{})
		at := slices.Index(ids(open), p2.Findings[0].ID)
		if at < 0 || open[at-1].ID != p1.Findings[98].ID || p2.Total != len(open) {
			t.Errorf("after changes the next page starts at %d (total %d of %d)", at, p2.Total, len(open))
		}

		// Closing every finding after a cursor leaves an empty page that
		// still leads back.
		if _, err := d.Exec(ctx, `UPDATE vuln_findings SET active = FALSE WHERE org_id = ? AND priority >= 3`, org); err != nil {
			t.Fatal(err)
		}
		walk, pages := walkPages(t, d, org, FindingFilter{Priority: 4}, 100)
		if len(walk) != 0 || pages[0].Total != 0 || pages[0].Start != 0 || pages[0].End() != 0 {
			t.Errorf("empty filter: %d findings, %+v", len(walk), pages[0])
		}
	})
}

func TestPageFindingsBadCursor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "ページ病院", "東京都")
		seedPagingFindings(t, d, org, 30)
		p, err := PageFindings(ctx, d, org, FindingFilter{}, "", 10)
		if err != nil || p.Next == "" {
			t.Fatalf("first page: %v %+v", err, p)
		}
		enc := func(body string) string {
			return base64.RawURLEncoding.EncodeToString([]byte("v1." + checksum(body) + "." + body))
		}
		fp := FindingFilter{}.fingerprint()
		cases := []struct {
			name, cursor string
			filter       FindingFilter
			key          string
		}{
			{"not base64", "!!!", FindingFilter{}, "vulnpage.cursor.invalid"},
			{"not a cursor", base64.RawURLEncoding.EncodeToString([]byte("hello")), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"wrong checksum", base64.RawURLEncoding.EncodeToString([]byte("v1.abc.n." + fp + ".1.1.1.x")), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"other version", strings.Replace(enc("n."+fp+".1.1.1.x"), "djEu", "djIu", 1), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"bad direction", enc("x." + fp + ".1.1.1.x"), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"bad number", enc("n." + fp + ".1.one.1.x"), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"no id", enc("n." + fp + ".1.1.1."), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"space in id", enc("n." + fp + ".1.1.1.a b"), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"too long", strings.Repeat("A", maxCursorLen+1), FindingFilter{}, "vulnpage.cursor.invalid"},
			{"truncated", p.Next[:len(p.Next)-9], FindingFilter{}, "vulnpage.cursor.invalid"},
			{"other filter", p.Next, FindingFilter{All: true}, "vulnpage.cursor.stale"},
			{"other priority", p.Next, FindingFilter{Priority: 1}, "vulnpage.cursor.stale"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := PageFindings(ctx, d, org, tc.filter, tc.cursor, 10)
				ae := apperr.From(err)
				if err == nil || ae.Code != apperr.Invalid || ae.Field != "cursor" || ae.Key != tc.key {
					t.Errorf("cursor %q: %v (%+v), want %s", tc.cursor, err, ae, tc.key)
				}
			})
		}
		if p, err := PageFindings(ctx, d, org, FindingFilter{}, "", MaxFindingPage*5); err != nil || len(p.Findings) != 22 {
			t.Errorf("oversized page: %v, %d findings", err, len(p.Findings))
		}
	})
}

// FuzzFindingCursor reads arbitrary cursors: never a panic, either a
// cursor that prints to a text reading back the same, or an Invalid error
// on the field "cursor".
func FuzzFindingCursor(f *testing.F) {
	good := findingCursor{filter: FindingFilter{}.fingerprint(), key: findingKey{active: true, priority: 2, rank: -5, id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}
	f.Add(good.String())
	good.back = true
	f.Add(good.String())
	f.Add("")
	f.Add("v1.n.x.1.1.1.id")
	for _, body := range []string{"p.0.0.99999999999999999999.1.id", "n.abc.1.1.1.a.b.c", "n.0.1.+1.-0.id"} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte("v1." + checksum(body) + "." + body)))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseFindingCursor(s, FindingFilter{})
		if err != nil {
			if ae := apperr.From(err); ae.Code != apperr.Invalid || ae.Field != "cursor" {
				t.Fatalf("%q: %+v", s, ae)
			}
			return
		}
		again, err := parseFindingCursor(c.String(), FindingFilter{})
		if err != nil || again != c {
			t.Fatalf("%q reads as %+v, which prints as %q and reads as %+v (%v)", s, c, c.String(), again, err)
		}
	})
}

// TestMatchAssetsJob corrects an asset's identity the way the API does:
// the re-match is enqueued in the transaction of the change, and running
// the queue matches the asset and writes the grouped alert.
func TestMatchAssetsJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := testkit.NewClock(t0)
		q := jobs.New(d, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
		w := newWatch(d, c)
		w.Queue = q
		w.Register()
		org := newOrg(t, d, "訂正病院", "東京都")
		fw := mustAsset(t, d, org, inventory.Asset{Name: "玄関FW", Kind: inventory.KindNetwork, Vendor: "Example", Product: "Box"})
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if fs := findingsOf(t, d, org, true); len(fs) != 0 {
			t.Fatalf("unknown product matched: %v", fs)
		}
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := SetIdentity(ctx, tx, org, fw.ID, "", []string{"cpe:2.3:o:fortinet:fortios:7.2.2:*:*:*:*:*:*:*"}, c.Now()); err != nil {
				return err
			}
			queued, err := w.QueueMatchAssets(ctx, tx, org, []string{fw.ID, fw.ID})
			if err == nil && !queued {
				t.Error("not queued with a queue")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		js, err := q.List(ctx, jobs.Filter{Kind: JobMatchAssets})
		if err != nil || len(js) != 1 || js[0].State != jobs.Queued || !strings.Contains(string(js[0].Payload), fw.ID) {
			t.Fatalf("jobs %+v %v", js, err)
		}
		if fs := findingsOf(t, d, org, true); len(fs) != 0 {
			t.Fatalf("matched before the job ran: %v", fs)
		}
		for range 5 {
			if _, err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if f, ok := findingsOf(t, d, org, false)["玄関FW CVE-2022-42475"]; !ok || !f.Exact() {
			t.Fatalf("job did not match the corrected identity: %+v", findingsOf(t, d, org, true))
		}
		ns, err := ListNotifications(ctx, d, org, 10)
		if err != nil || len(ns) != 1 || !strings.Contains(ns[0].Body, "玄関FW") {
			t.Fatalf("alert: %+v %v", ns, err)
		}
		if js, _ := q.List(ctx, jobs.Filter{Kind: JobMatchAssets}); len(js) != 1 || js[0].State != jobs.Done {
			t.Errorf("job state %+v", js)
		}
		if queued, err := (&Watch{DB: d}).QueueMatchAssets(ctx, d, org, []string{fw.ID}); queued || err != nil {
			t.Errorf("queued without a queue: %v %v", queued, err)
		}
	})
}

// BenchmarkPageFindings reads page 51 of 20,000 findings (100 a page,
// closed ones included), with the counts.
func BenchmarkPageFindings(b *testing.B) {
	for name, open := range map[string]func(testing.TB) *db.DB{"sqlite": dbtest.SQLite, "postgres": dbtest.Postgres} {
		b.Run(name, func(b *testing.B) {
			d := open(b)
			ctx := context.Background()
			org := newOrg(b, d, "大病院", "東京都")
			seedPagingFindings(b, d, org, 20000)
			if _, err := d.Exec(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			p, err := PageFindings(ctx, d, org, FindingFilter{All: true}, "", 100)
			if err != nil {
				b.Fatal(err)
			}
			for range 49 {
				if p, err = PageFindings(ctx, d, org, FindingFilter{All: true}, p.Next, 100); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := PageFindings(ctx, d, org, FindingFilter{All: true}, p.Next, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
