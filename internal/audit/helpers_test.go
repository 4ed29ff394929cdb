package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// clock is a test clock that moves one second per call.
type clock struct{ testkit.Clock }

func newClock() *clock {
	c := &clock{}
	c.Set(time.Date(2026, 4, 1, 8, 59, 0, 123456789, time.UTC))
	return c
}

func (c *clock) now() time.Time { return c.Tick(time.Second) }

var (
	testKeyOnce sync.Once
	testSigner  *Signer
)

func signer(t testing.TB) *Signer {
	t.Helper()
	testKeyOnce.Do(func() {
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = byte(i)
		}
		testSigner = NewSigner(ed25519.NewKeyFromSeed(seed))
	})
	return testSigner
}

func appendN(t testing.TB, l *Log, q db.Querier, n int, org string) []Entry {
	t.Helper()
	var out []Entry
	for i := 0; i < n; i++ {
		e, err := l.Append(context.Background(), q, Entry{
			ActorID: "u1", Actor: fmt.Sprintf("user%d@clinic.example.jp", i%3), OrgID: org,
			Action: ActionSignIn, ObjectType: "user", ObjectID: fmt.Sprintf("obj-%d", i),
			Outcome: Success, IP: "192.0.2.1", UserAgent: "Mozilla/5.0",
			Details: map[string]any{"i": i, "note": "ログイン"},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// exec runs raw SQL behind the program's back, with the append-only guard
// triggers out of the way.
func exec(t *testing.T, d *db.DB, sql string, args ...any) {
	t.Helper()
	if _, err := d.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dropGuards(t *testing.T, d *db.DB) {
	t.Helper()
	if d.Dialect() == db.Postgres {
		exec(t, d, `ALTER TABLE audit_log DISABLE TRIGGER USER`)
		exec(t, d, `ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`)
		return
	}
	for _, n := range []string{"audit_log_no_update", "audit_log_no_delete", "audit_checkpoints_no_update", "audit_checkpoints_no_delete"} {
		exec(t, d, `DROP TRIGGER `+n)
	}
}

// rechain recomputes prev_hash and hash of every entry from seq on, as an
// attacker with database access would after changing the chain.
func rechain(t *testing.T, d *db.DB, from int64) {
	t.Helper()
	ctx := context.Background()
	prev := GenesisHash
	if from > 1 {
		if err := d.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, from-1).Scan(&prev); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := d.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE seq >= ? ORDER BY seq`, from)
	if err != nil {
		t.Fatal(err)
	}
	type fix struct {
		seq        int64
		prev, hash string
	}
	var fixes []fix
	for rows.Next() {
		e, details, err := scanEntry(rows)
		if err != nil {
			t.Fatal(err)
		}
		e.PrevHash = prev
		h := entryHash(&e, details)
		fixes = append(fixes, fix{e.Seq, prev, h})
		prev = h
	}
	rows.Close()
	for _, f := range fixes {
		exec(t, d, `UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?`, f.prev, f.hash, f.seq)
	}
}

// shift renumbers the entries with seq >= from by delta (±1).
func shift(t *testing.T, d *db.DB, from, delta int64) {
	t.Helper()
	exec(t, d, `UPDATE audit_log SET seq = -(seq + ?) WHERE seq >= ?`, delta, from)
	exec(t, d, `UPDATE audit_log SET seq = -seq WHERE seq < 0`)
}
