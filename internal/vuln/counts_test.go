package vuln

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
)

// checkCounts fails when the counts the database keeps for org differ
// from a fresh count of its findings.
func checkCounts(t *testing.T, d *db.DB, org, when string) {
	t.Helper()
	ctx := context.Background()
	kept, err := KeptCounts(ctx, d, org)
	if err != nil {
		t.Fatal(err)
	}
	counted, err := CountedCounts(ctx, d, org)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(kept.ByKind, counted.ByKind) || !maps.Equal(kept.ByAsset, counted.ByAsset) {
		t.Fatalf("%s: kept counts differ from a fresh count\nkept    %v %v\ncounted %v %v", when, kept.ByKind, kept.ByAsset, counted.ByKind, counted.ByAsset)
	}
}

// checkTotals compares the summary and the list totals with counts of the
// findings themselves.
func checkTotals(t *testing.T, d *db.DB, org string, assets []string) {
	t.Helper()
	ctx := context.Background()
	count := func(cond string, args ...any) int {
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings WHERE org_id = ? AND `+cond, append([]any{org}, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const open = `active AND state IN ('open','in_progress')`
	s, err := Summarise(ctx, d, org)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Open: count(`active AND state = 'open'`), InProgress: count(`active AND state = 'in_progress'`),
		ToConfirm: count(open + ` AND confidence = 'product'`)}
	for p := 1; p <= 4; p++ {
		want.ByPriority[p] = count(open+` AND priority = ?`, p)
	}
	if err := d.QueryRow(ctx, `SELECT COUNT(DISTINCT asset_id) FROM vuln_findings WHERE org_id = ? AND `+open, org).Scan(&want.Assets); err != nil {
		t.Fatal(err)
	}
	if s != want {
		t.Errorf("summary %+v, counted %+v", s, want)
	}
	for _, f := range []FindingFilter{{}, {All: true}, {Priority: 2}, {All: true, Priority: 3}, {AssetID: assets[0]}, {All: true, AssetID: assets[1]}, {VulnID: "CVE-2099-00003"}} {
		got, pages := walkPages(t, d, org, f, 7)
		where, args := f.where(org)
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings f WHERE `+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Errorf("%+v: %d findings on the pages, %d counted", f, len(got), n)
		}
		for i, p := range pages {
			if p.Total != n {
				t.Errorf("%+v: page %d says %d in all, %d counted", f, i+1, p.Total, n)
			}
		}
	}
}

// TestFindingCountsKept changes findings in every way the writers do, in a
// random order, and checks after each change that the counts the database
// keeps equal a fresh count, on both databases; then that a rebuild
// repairs counts made wrong, and that removing an organisation removes
// its counts.
func TestFindingCountsKept(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		org := newOrg(t, d, "数える病院", "東京都")
		other := newOrg(t, d, "別の病院", "大阪府")
		// A real matching run first.
		mustAsset(t, d, org, inventory.Asset{Name: "古FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		mustAsset(t, d, org, inventory.Asset{Name: "不明FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate"})
		importFiles(t, w, td("kev", "kev_trimmed.json"), td("nvd", "CVE-2022-42475.json"), td("fortinet", "FG-IR-22-398.json"))
		if n, err := totalFindings(ctx, d, org, FindingFilter{}); err != nil || n == 0 {
			t.Fatalf("matching found %d findings (%v)", n, err)
		}
		checkCounts(t, d, org, "after matching")

		assets := map[string][]string{}
		made := 0
		newAsset := func(o string) {
			made++
			a := mustAsset(t, d, o, inventory.Asset{Name: fmt.Sprintf("機器%d", made), Kind: inventory.KindPC, Vendor: "Example", Product: "Box"})
			assets[o] = append(assets[o], a.ID)
		}
		for range 5 {
			newAsset(org)
			newAsset(other)
		}
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 7))
		pickFinding := func(o string) string {
			var id string
			err := d.QueryRow(ctx, `SELECT id FROM vuln_findings WHERE org_id = ? ORDER BY id LIMIT 1 OFFSET ?`, o, r.IntN(10)).Scan(&id)
			if err != nil {
				return ""
			}
			return id
		}
		states := []Remediation{{State: StateOpen}, {State: StateInProgress}, {State: StateResolved},
			{State: StateAccepted, Reason: "更新できない", ReviewOn: "2099-01-01"}, {State: StateNotApplicable, Reason: "使っていない"}}
		for step := range 250 {
			o := org
			if r.IntN(3) == 0 {
				o = other
			}
			var op string
			var err error
			switch k := r.IntN(6); k {
			case 0, 1: // a matching run's insert, found again or new
				op = "insert"
				err = d.InTx(ctx, func(tx *db.Tx) error {
					up := newBatch(tx, "vuln_findings", []string{"id", "org_id", "asset_id", "vuln_id", "active", "closed_reason", "confidence", "reasons",
						"sources", "matched", "fixed", "external", "exposed", "priority", "rank", "state", "first_seen", "changed_at", "alert_pending"}, findingUpsert, 4)
					for range 1 + r.IntN(6) {
						as := assets[o][r.IntN(len(assets[o]))]
						vid := fmt.Sprintf("CVE-2099-%05d", r.IntN(8))
						conf := []string{"exact", "product"}[r.IntN(2)]
						if err := up.add(ctx, as+vid, db.NewID(), o, as, vid, true, "", conf, "", "", "", "", false, false, 1+r.IntN(4), r.IntN(100), "open", t0, t0, true); err != nil {
							return err
						}
					}
					return up.flush(ctx)
				})
			case 2: // a person changes the state
				op = "state"
				if id := pickFinding(o); id != "" {
					_, _, err = SetRemediation(ctx, d, o, "", id, states[r.IntN(len(states))], t0)
				}
			case 3: // closed automatically, as a matching run does
				op = "close"
				if id := pickFinding(o); id != "" {
					_, err = d.Exec(ctx, `UPDATE vuln_findings SET active = FALSE, closed_reason = 'no_longer_affected',
						state = CASE WHEN state IN ('open','in_progress') THEN 'resolved' ELSE state END,
						state_reason = CASE WHEN state IN ('open','in_progress') THEN 'auto' ELSE state_reason END WHERE id = ?`, id)
				}
			case 4: // priorities change with new facts (several at once)
				op = "priority"
				_, err = d.Exec(ctx, `UPDATE vuln_findings SET priority = CASE WHEN priority = 4 THEN 1 ELSE priority + 1 END, rank = rank + 1
					WHERE org_id = ? AND asset_id = ?`, o, assets[o][r.IntN(len(assets[o]))])
			case 5: // an asset is deleted with its findings
				op = "delete asset"
				i := r.IntN(len(assets[o]))
				if _, err = inventory.DeleteAsset(ctx, d, o, "", assets[o][i], t0); err == nil {
					assets[o] = append(assets[o][:i], assets[o][i+1:]...)
					newAsset(o)
				}
			}
			if err != nil {
				t.Fatalf("step %d (%s): %v", step, op, err)
			}
			checkCounts(t, d, org, fmt.Sprintf("step %d (%s)", step, op))
			checkCounts(t, d, other, fmt.Sprintf("step %d (%s)", step, op))
		}
		checkTotals(t, d, org, assets[org])
		checkTotals(t, d, other, assets[other])

		// Counts made wrong are repaired by a rebuild, of one organisation
		// or of all.
		if _, err := d.Exec(ctx, `UPDATE vuln_org_counts SET n = n + 5`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(ctx, `DELETE FROM vuln_asset_counts WHERE org_id = ?`, other); err != nil {
			t.Fatal(err)
		}
		if err := RebuildFindingCounts(ctx, d, org); err != nil {
			t.Fatal(err)
		}
		checkCounts(t, d, org, "after rebuilding one organisation")
		if err := RebuildFindingCounts(ctx, d, ""); err != nil {
			t.Fatal(err)
		}
		checkCounts(t, d, other, "after rebuilding all")

		// Removing an organisation removes its findings and counts.
		if _, err := d.Exec(ctx, `DELETE FROM organizations WHERE id = ?`, other); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := d.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM vuln_org_counts WHERE org_id = ?) + (SELECT COUNT(*) FROM vuln_asset_counts WHERE org_id = ?)`, other, other).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d count rows left of a removed organisation", left)
		}
		checkCounts(t, d, org, "after removing another organisation")
	})
}

// TestFindingCountsNoDeadlock: on PostgreSQL, a long transaction that
// changes an organisation's findings in several statements (as matching
// does) and a person's state change that touches the same count rows in
// the opposite order do not deadlock: the second waits for the first and
// both commit, with the counts right.
func TestFindingCountsNoDeadlock(t *testing.T) {
	d := dbtest.Postgres(t)
	ctx := context.Background()
	org := newOrg(t, d, "待つ病院", "東京都")
	a := mustAsset(t, d, org, inventory.Asset{Name: "FW", Kind: inventory.KindNetwork, Vendor: "Example", Product: "Box"})
	now := t0
	ids := map[string]string{}
	for _, f := range []struct {
		name string
		prio int
	}{{"p1a", 1}, {"p1b", 1}, {"p3", 3}} {
		id := db.NewID()
		ids[f.name] = id
		if _, err := d.Exec(ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, active, confidence, priority, rank, first_seen, changed_at)
			VALUES (?, ?, ?, ?, ?, 'exact', ?, ?, ?, ?)`, id, org, a.ID, "CVE-2099-"+f.name, true, f.prio, f.prio, now, now); err != nil {
			t.Fatal(err)
		}
	}
	first := make(chan struct{})
	second := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx *db.Tx) error {
			// Count rows (in_progress, 3) and (open, 3).
			if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET state = 'in_progress' WHERE id = ?`, ids["p3"]); err != nil {
				return err
			}
			close(first)
			// Wait until the other transaction waits for a lock.
			for i := 0; ; i++ {
				var waiting int
				if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
					return err
				}
				if waiting > 0 {
					break
				}
				if i > 600 {
					return fmt.Errorf("the other transaction never waited")
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Count row (open, 1), which the other transaction would take
			// first.
			_, err := tx.Exec(ctx, `UPDATE vuln_findings SET state = 'in_progress' WHERE id = ?`, ids["p1b"])
			return err
		})
	}()
	<-first
	go func() {
		// Count rows (open, 1) then (open, 3) in one statement.
		_, err := d.Exec(ctx, `UPDATE vuln_findings SET priority = 3 WHERE id = ?`, ids["p1a"])
		second <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("long transaction: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("state change: %v", err)
	}
	checkCounts(t, d, org, "after both")
}
