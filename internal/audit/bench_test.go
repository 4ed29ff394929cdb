package audit

// Figures on a shared 2-vCPU build machine (go test -bench . -benchtime 3s),
// noisy within about 3x under load:
//
//	Append, one at a time        SQLite 0.22-0.25 ms   PostgreSQL 0.19-0.77 ms
//	Append, 4x GOMAXPROCS        SQLite 0.19-0.25 ms   PostgreSQL 0.65-0.91 ms
//	Verify, 100k entries         SQLite 0.8-2.8 s      PostgreSQL 0.56-1.0 s
//	List, 100 of 100k (one org)  SQLite 2.1-2.8 ms     PostgreSQL 1.1 ms

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func eachDB(b *testing.B, fn func(b *testing.B, d *db.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.Postgres(b)) })
}

func BenchmarkAppend(b *testing.B) {
	eachDB(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		l := New(d, signer(b), nil, nil)
		e := Entry{ActorID: db.NewID(), Actor: "staff@clinic.example.jp", OrgID: db.NewID(), Action: "asset.read",
			ObjectType: "asset", ObjectID: db.NewID(), Outcome: Success, IP: "192.0.2.10",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", Details: map[string]any{"fields": []string{"name", "ip"}}}
		b.ResetTimer()
		for b.Loop() {
			if _, err := l.Append(ctx, d, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendParallel(b *testing.B) {
	eachDB(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		l := New(d, signer(b), nil, nil)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Append(ctx, d, Entry{Action: "asset.read", Outcome: Success, OrgID: "o"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// bulkChain writes a valid chain of n entries quickly, bypassing Append.
func bulkChain(b *testing.B, d *db.DB, n int) {
	ctx := context.Background()
	const batch = 400
	prev := GenesisHash
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	details := `{"fields":["name","ip"]}`
	for start := 1; start <= n; start += batch {
		var sb strings.Builder
		var args []any
		sb.WriteString(`INSERT INTO audit_log (` + entryColumns + `) VALUES `)
		for i := start; i < start+batch && i <= n; i++ {
			e := Entry{Seq: int64(i), At: at.Add(time.Duration(i) * time.Millisecond), ActorID: "u", Actor: "staff@clinic.example.jp",
				OrgID: fmt.Sprintf("org-%d", i%10), Action: "asset.read", ObjectType: "asset", ObjectID: fmt.Sprint(i),
				Outcome: Success, IP: "192.0.2.10", UserAgent: "Mozilla/5.0", PrevHash: prev}
			e.Hash = entryHash(&e, details)
			prev = e.Hash
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.Seq, e.At, e.ActorID, e.Actor, e.OrgID, e.Action, e.ObjectType, e.ObjectID, e.Outcome, e.IP, e.UserAgent, details, e.PrevHash, e.Hash)
		}
		if _, err := d.Exec(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	// Statistics as autovacuum would gather them on a live database.
	if _, err := d.Exec(ctx, `ANALYZE audit_log`); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkVerify100k(b *testing.B) {
	eachDB(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		const n = 100_000
		bulkChain(b, d, n)
		l := New(d, signer(b), nil, nil)
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			rep, err := l.Verify(ctx)
			if err != nil || !rep.OK || rep.Entries != n {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

func BenchmarkList(b *testing.B) {
	eachDB(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		bulkChain(b, d, 100_000)
		l := New(d, signer(b), nil, nil)
		b.ResetTimer()
		for b.Loop() {
			es, err := l.List(ctx, "org-3", Filter{ActionPrefix: "asset", Limit: 100})
			if err != nil || len(es) != 100 {
				b.Fatalf("%d %v", len(es), err)
			}
		}
	})
}
