package testkit

import (
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// BenchEach runs fn as two sub-benchmarks, "sqlite" and "postgres", each on
// a fresh, migrated database (dbtest.Each for benchmarks).
func BenchEach(b *testing.B, fn func(b *testing.B, d *db.DB)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.Postgres(b)) })
}
