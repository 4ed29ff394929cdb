package vuln

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestPageVulns walks the vulnerability list page by page with cursors
// over rows with equal, missing and distinct modification times, with and
// without filters: every row once, in the list order (known-exploited
// first, then newest modified, undated last, then id), and offsets up to
// MaxVulnOffset give the same rows.
func TestPageVulns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const n = 1500
		type row struct {
			id  string
			kev bool
			mod time.Time
		}
		var all []row
		base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		err := d.InTx(ctx, func(tx *db.Tx) error {
			for i := 0; i < n; i++ {
				r := row{id: fmt.Sprintf("CVE-2024-%05d", (i*7919)%n), kev: i%13 == 0}
				var mod any
				switch {
				case i%11 == 0: // undated
				case i%5 == 0: // many rows share a time
					r.mod = base.Add(time.Duration(i%3) * time.Hour)
				default:
					r.mod = base.Add(time.Duration(i) * time.Minute).Add(123456 * time.Nanosecond)
				}
				if !r.mod.IsZero() {
					mod = r.mod
				}
				title := "other"
				if i%4 == 0 {
					title = "Router flaw"
				}
				if _, err := tx.Exec(ctx, `INSERT INTO vuln_vulns (id, title, modified, updated_at) VALUES (?, ?, ?, ?)`, r.id, title, mod, base); err != nil {
					return err
				}
				if r.kev {
					if _, err := tx.Exec(ctx, `INSERT INTO vuln_kev (cve, updated_at) VALUES (?, ?)`, r.id, base); err != nil {
						return err
					}
				}
				all = append(all, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(all, func(a, b row) int {
			if a.kev != b.kev {
				if a.kev {
					return -1
				}
				return 1
			}
			if a.mod.IsZero() != b.mod.IsZero() {
				if a.mod.IsZero() {
					return 1
				}
				return -1
			}
			if c := b.mod.Compare(a.mod); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		want := func(keep func(i int, r row) bool) []string {
			var out []string
			for i, r := range all {
				if keep(i, r) {
					out = append(out, r.id)
				}
			}
			return out
		}
		// The watch keeps the known-exploited order in memory; the package
		// function reads it each time. The walk alternates between them.
		watch := &Watch{DB: d}
		pageOf := [2]func(VulnFilter, string) (VulnPage, error){
			func(f VulnFilter, c string) (VulnPage, error) { return watch.PageVulns(ctx, f, c) },
			func(f VulnFilter, c string) (VulnPage, error) { return PageVulns(ctx, d, f, c) },
		}
		walk := func(f VulnFilter) []string {
			t.Helper()
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("the walk does not end")
				}
				p, err := pageOf[pages%2](f, cursor)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Vulns) > f.Limit || (p.Next != "" && len(p.Vulns) != f.Limit) {
					t.Fatalf("page of %d rows, next %q", len(p.Vulns), p.Next)
				}
				for _, v := range p.Vulns {
					got = append(got, v.ID)
				}
				if p.Next == "" {
					return got
				}
				cursor = p.Next
			}
		}
		if got, w := walk(VulnFilter{Limit: 37}), want(func(int, row) bool { return true }); !slices.Equal(got, w) {
			t.Fatalf("walk: %d rows, want %d; first %v, want %v", len(got), len(w), got[:min(5, len(got))], w[:5])
		}
		if got, w := walk(VulnFilter{Limit: 10, KEV: true}), want(func(_ int, r row) bool { return r.kev }); !slices.Equal(got, w) {
			t.Fatalf("known exploited: %d rows, want %d", len(got), len(w))
		}
		titles := map[string]bool{}
		rows, err := d.Query(ctx, `SELECT id FROM vuln_vulns WHERE title = 'Router flaw'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			titles[id] = true
		}
		rows.Close()
		if got, w := walk(VulnFilter{Limit: 50, Query: "router"}), want(func(_ int, r row) bool { return titles[r.id] }); !slices.Equal(got, w) || len(w) == 0 {
			t.Fatalf("query: %d rows, want %d", len(got), len(w))
		}
		ids := want(func(int, row) bool { return true })
		for _, off := range []int{0, 1, 95, 999, MaxVulnOffset} {
			vs, err := SearchVulns(ctx, d, VulnFilter{Limit: 20, Offset: off})
			if err != nil || len(vs) != 20 || vs[0].ID != ids[off] || vs[19].ID != ids[off+19] {
				t.Fatalf("offset %d: %d rows %v", off, len(vs), err)
			}
		}
		if _, err := SearchVulns(ctx, d, VulnFilter{Offset: MaxVulnOffset + 1}); apperr.From(err).Field != "offset" || apperr.From(err).Key != "vuln.api.offset_too_large" {
			t.Fatalf("offset past the bound: %v", err)
		}
		p, err := watch.PageVulns(ctx, VulnFilter{Limit: 5}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := watch.PageVulns(ctx, VulnFilter{Limit: 5, KEV: true}, p.Next); apperr.From(err).Key != "vulnpage.cursor.stale" {
			t.Fatalf("cursor of another filter: %v", err)
		}
		// The known-exploited order kept in memory follows imports: a new
		// KEV entry, a changed modification time, a removed entry.
		later := base.Add(24 * 365 * time.Hour)
		if _, err := d.Exec(ctx, `INSERT INTO vuln_vulns (id, title, modified, updated_at) VALUES (?, ?, ?, ?)`, "CVE-2099-0001", "new", later, later); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `INSERT INTO vuln_kev (cve, updated_at) VALUES (?, ?)`, "CVE-2099-0001", later); err != nil {
			t.Fatal(err)
		}
		if p, err := watch.PageVulns(ctx, VulnFilter{Limit: 3}, ""); err != nil || p.Vulns[0].ID != "CVE-2099-0001" {
			t.Fatalf("after a new KEV entry: %v %v", p.Vulns, err)
		}
		kevIDs := want(func(_ int, r row) bool { return r.kev })
		if _, err := d.Exec(ctx, `UPDATE vuln_vulns SET modified = ?, updated_at = ? WHERE id = ?`, later.Add(time.Hour), later.Add(time.Hour), kevIDs[5]); err != nil {
			t.Fatal(err)
		}
		p2, err := watch.PageVulns(ctx, VulnFilter{Limit: 3}, "")
		if err != nil || p2.Vulns[0].ID != kevIDs[5] || p2.Vulns[1].ID != "CVE-2099-0001" {
			t.Fatalf("after a changed time: %v %v", p2.Vulns, err)
		}
		// A cursor whose row left KEV still continues after its position.
		last := p2.Vulns[2].ID
		if _, err := d.Exec(ctx, `DELETE FROM vuln_kev WHERE cve = ?`, last); err != nil {
			t.Fatal(err)
		}
		p3, err := watch.PageVulns(ctx, VulnFilter{Limit: 2}, p2.Next)
		rest := slices.DeleteFunc(slices.Clone(kevIDs), func(id string) bool { return id == kevIDs[5] || id == last })
		if err != nil || len(p3.Vulns) != 2 || p3.Vulns[0].ID != rest[0] || p3.Vulns[1].ID != rest[1] {
			t.Fatalf("after the cursor's row left KEV: %v, want %v %v", p3.Vulns, rest[:2], err)
		}
		for _, bad := range []string{"x", p.Next[:len(p.Next)-2], "djF8MXwy"} {
			if _, err := watch.PageVulns(ctx, VulnFilter{Limit: 5}, bad); apperr.From(err).Key != "vulnpage.cursor.invalid" {
				t.Fatalf("cursor %q: %v", bad, err)
			}
		}
	})
}
