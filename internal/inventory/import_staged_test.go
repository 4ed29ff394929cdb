package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func testService(d *db.DB) *Service {
	return NewService(d, audit.New(d, nil, testCat, nil), testCat, nil)
}

func adminOf(orgID string) *auth.Principal {
	return &auth.Principal{UserID: "u-" + orgID, Email: "admin@example.jp", OrgID: orgID, OrgKind: auth.KindHospital, Role: auth.RoleAdmin, Via: audit.ViaWeb}
}

// registerState is every asset of the organisation as "name|notes|hostname",
// sorted, with the number of history entries, vendors, segments and
// connections.
func registerState(t *testing.T, d *db.DB, orgID string) string {
	t.Helper()
	ctx := context.Background()
	as := must[[]Asset](t)(AllAssets(ctx, d, orgID))
	lines := make([]string, 0, len(as)+4)
	for _, a := range as {
		lines = append(lines, a.Name+"|"+a.Role+"|"+a.Hostname+"|"+a.SegmentName)
	}
	sort.Strings(lines)
	for _, table := range []string{"inv_asset_history", "inv_vendors", "inv_segments", "inv_connections"} {
		var n int
		if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE org_id = ?", orgID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(lines, "\n")
}

func importEntries(t *testing.T, d *db.DB, orgID string) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE org_id = ? AND action = ?", orgID, ActionImport).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func stagedLeft(t *testing.T, d *db.DB) (imports, rows int) {
	t.Helper()
	ctx := context.Background()
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM inv_imports").Scan(&imports); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM inv_import_rows").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return imports, rows
}

// TestStagedImportShortTransactions: a 20,000-row import (4,000 under the
// race detector) is written in short transactions while another
// organisation writes every 20 ms.
func TestStagedImportShortTransactions(t *testing.T) {
	n := 20000
	if raceEnabled {
		n = 4000
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := testService(d)
		org, other := newOrg(t, d, "A"), newOrg(t, d, "B")
		data := benchCSV(n)
		changed := bytes.ReplaceAll(data, []byte(",受付,"), []byte(",受付（変更）,"))
		for _, step := range []struct {
			name string
			data []byte
		}{{"new", data}, {"changed", changed}} {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var worst time.Duration
			writes := 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					t0 := time.Now()
					if _, err := CreateSegment(ctx, d, other, Segment{Name: fmt.Sprintf("%s-%d", step.name, i)}, time.Now()); err != nil {
						t.Errorf("other organisation's write: %v", err)
						return
					}
					worst, writes = max(worst, time.Since(t0)), writes+1
				}
			}()
			p, err := s.ApplyImport(ctx, adminOf(org), org, "register.csv", step.data)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			t.Logf("%s: %d rows in %d transactions, longest %v; another organisation's %d writes waited up to %v",
				step.name, p.Stats.Rows, p.Stats.Transactions, p.Stats.Longest, writes, worst)
			// Durations depend on the machine (they are measured in
			// docs/benchmarks.md; a transaction ends after 30 ms of
			// work): here, the import must not be one transaction.
			if p.Stats.Transactions < 4 {
				t.Errorf("%s: %d rows in %d transactions: not chunked", step.name, n, p.Stats.Transactions)
			}
			if p.Stats.Rows != n+4*btoi(step.name == "new") {
				t.Errorf("%s: %d staged rows", step.name, p.Stats.Rows)
			}
		}
		if got := countRows(t, d, "inv_assets"); got != n {
			t.Errorf("%d assets", got)
		}
		var notes int
		if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM inv_assets WHERE org_id = ? AND role = ?", org, "受付（変更）").Scan(&notes); err != nil || notes != n {
			t.Errorf("changed notes: %d %v", notes, err)
		}
		if n := importEntries(t, d, org); n != 2 {
			t.Errorf("%d import entries, want one per import", n)
		}
		if i, r := stagedLeft(t, d); i != 0 || r != 0 {
			t.Errorf("left behind: %d imports, %d rows", i, r)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestStagedImportCrash: an import stopped after k chunks of its apply is
// finished by recovery; one stopped while staging leaves the register as
// it was and recovery removes what it staged.
func TestStagedImportCrash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org, ref := newOrg(t, d, "A"), newOrg(t, d, "Ref")
		first := benchCSV(1200)
		second := bytes.ReplaceAll(first, []byte(",受付,"), []byte(",新しい役割,"))
		second = bytes.ReplaceAll(second, []byte("端末00001"), []byte("機器00001")) // renames by serial
		// The reference: the same two imports without a stop.
		s := testService(d)
		for _, f := range [][]byte{first, second} {
			if _, err := s.ApplyImport(ctx, adminOf(ref), ref, "r.csv", f); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", first); err != nil {
			t.Fatal(err)
		}
		old := registerState(t, d, org)
		want := registerState(t, d, ref)
		if old == want {
			t.Fatal("the second file changes nothing")
		}

		// Stopped while staging: nothing changes; recovery discards it.
		crashing := testService(d)
		crashing.chunkRows = 200
		crashing.hook = func(stage string, n int) error {
			if stage == "staging" && n == 2 {
				return errCrash
			}
			return nil
		}
		if _, err := crashing.ApplyImport(ctx, adminOf(org), org, "r.csv", second); !errors.Is(err, errCrash) {
			t.Fatalf("staging stop: %v", err)
		}
		if i, r := stagedLeft(t, d); i != 1 || r == 0 {
			t.Fatalf("after the stop: %d imports, %d rows staged", i, r)
		}
		if got := registerState(t, d, org); got != old {
			t.Fatal("a stop while staging changed the register")
		}
		if on, _ := ImportApplying(ctx, d, org); on {
			t.Error("staging import reported as applying")
		}
		// A fresh staging import is alive: another import is refused.
		if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", second); apperr.CodeOf(err) != apperr.RateLimited {
			t.Fatalf("import beside a live staging one: %v", err)
		}
		if _, err := d.Exec(ctx, "UPDATE inv_imports SET touched_at = ?", time.Now().Add(-time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("recover: %d %v", n, err)
		}
		if i, r := stagedLeft(t, d); i != 0 || r != 0 {
			t.Fatalf("after recovery: %d imports, %d rows", i, r)
		}
		if got := registerState(t, d, org); got != old {
			t.Fatal("recovery of a staging import changed the register")
		}
		if n := importEntries(t, d, org); n != 1 {
			t.Errorf("%d import entries after a stopped import", n)
		}

		// Stopped after k chunks of the apply, for several k: recovery
		// (at start, or by the next import) gives exactly the new register.
		for _, k := range []int{1, 3} {
			org := newOrg(t, d, fmt.Sprintf("K%d", k))
			if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", first); err != nil {
				t.Fatal(err)
			}
			crashing.hook = func(stage string, n int) error {
				if stage == "applying" && n == k {
					return errCrash
				}
				return nil
			}
			if _, err := crashing.ApplyImport(ctx, adminOf(org), org, "r.csv", second); !errors.Is(err, errCrash) {
				t.Fatalf("k=%d: %v", k, err)
			}
			mid := registerState(t, d, org)
			if mid == want {
				t.Errorf("k=%d: the apply was complete before the stop", k)
			}
			if on, _ := ImportApplying(ctx, d, org); !on {
				t.Errorf("k=%d: stopped apply not reported as applying", k)
			}
			// Other writes to the register wait for the import.
			if _, err := testService(d).CreateAsset(ctx, adminOf(org), org, Asset{Name: "手書き"}); !errors.Is(err, ErrImportApplying) {
				t.Errorf("k=%d: write during the apply: %v", k, err)
			}
			if k == 1 {
				if _, err := s.Recover(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				// The next import of the organisation finishes it first.
				if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", second); err != nil {
					t.Fatal(err)
				}
			}
			if got := registerState(t, d, org); got != want {
				t.Errorf("k=%d: after recovery the register is not the new one:\n%s", k, diffLines(got, want))
			}
			// The first import, the finished one, and (k=3) the import
			// that finished it, which then had nothing left to change.
			if n := importEntries(t, d, org); n != 2+btoi(k == 3) {
				t.Errorf("k=%d: %d import entries", k, n)
			}
			if i, r := stagedLeft(t, d); i != 0 || r != 0 {
				t.Errorf("k=%d: left behind %d imports, %d rows", k, i, r)
			}
		}
	})
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "got  "+x, "want "+y)
		}
	}
	return strings.Join(out, "\n")
}

// TestStagedImportRegisterChanged: a register changed between the preview
// and the apply makes the import start over from the new register.
func TestStagedImportRegisterChanged(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		s := testService(d)
		fp := must[string](t)(fingerprint(ctx, d, org))
		must[Asset](t)(CreateAsset(ctx, d, org, "", Asset{Name: "途中で追加"}, t0))
		st := s.stager()
		err := st.runStaged(ctx, org, fp, nil, stagedEntry{})
		if apperr.From(err).Key != "inventory.import.register_changed" {
			t.Fatalf("changed register: %v", err)
		}
		if i, r := stagedLeft(t, d); i != 0 || r != 0 {
			t.Errorf("left behind %d imports, %d rows", i, r)
		}
		// Through the service the apply starts over and succeeds.
		if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", benchCSV(10)); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, d, "inv_assets"); n != 11 {
			t.Errorf("%d assets", n)
		}
	})
}

// TestStagedImportCancelled: an import whose caller goes away (the client
// disconnects) while it stages stops, removes what it staged and leaves
// the register as it was; once applying, it runs to the end.
func TestStagedImportCancelled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		org := newOrg(t, d, "A")
		s := testService(d)
		s.chunkRows = 100
		before := registerState(t, d, org)
		ctx, cancel := context.WithCancel(context.Background())
		s.hook = func(stage string, n int) error {
			if stage == "staging" && n == 1 {
				cancel()
			}
			return nil
		}
		if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", benchCSV(500)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled while staging: %v", err)
		}
		if i, r := stagedLeft(t, d); i != 0 || r != 0 {
			t.Errorf("left behind %d imports, %d rows", i, r)
		}
		if registerState(t, d, org) != before {
			t.Error("a cancelled import changed the register")
		}
		ctx, cancel = context.WithCancel(context.Background())
		s.hook = func(stage string, n int) error {
			if stage == "applying" && n == 1 {
				cancel()
			}
			return nil
		}
		if _, err := s.ApplyImport(ctx, adminOf(org), org, "r.csv", benchCSV(500)); err != nil {
			t.Fatalf("cancelled while applying: %v", err)
		}
		if n := countRows(t, d, "inv_assets"); n != 500 {
			t.Errorf("%d assets after an apply whose caller went away", n)
		}
	})
}
