package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, db.ChunkSize - 1, db.ChunkSize, db.ChunkSize + 1, 3*db.ChunkSize + 7} {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		var got []int
		chunks := 0
		for c := range db.Chunks(ids) {
			chunks++
			if len(c) == 0 || len(c) > db.ChunkSize {
				t.Fatalf("n=%d: chunk of %d", n, len(c))
			}
			if cap(c) != len(c) {
				t.Fatalf("n=%d: chunk of %d with capacity %d", n, len(c), cap(c))
			}
			got = append(got, c...)
		}
		if want := (n + db.ChunkSize - 1) / db.ChunkSize; chunks != want {
			t.Errorf("n=%d: %d chunks, want %d", n, chunks, want)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("n=%d: chunks do not give back the input in order", n)
		}
	}
	// Appending to a chunk must not write into the next one.
	ids := make([]int, db.ChunkSize+1)
	for c := range db.Chunks(ids) {
		_ = append(c, -1)
	}
	if ids[db.ChunkSize] != 0 {
		t.Error("append to a chunk overwrote the next")
	}
	// Stopping early stops.
	n := 0
	for range db.Chunks(make([]int, 3*db.ChunkSize)) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after the first chunk ran %d", n)
	}
}

func TestArgs(t *testing.T) {
	got := db.Args([]any{"x", 1}, []string{"a", "b"})
	if fmt.Sprint(got) != "[x 1 a b]" {
		t.Errorf("Args = %v", got)
	}
	if got := db.Args(nil, []string{}); len(got) != 0 {
		t.Errorf("Args of nothing = %v", got)
	}
}

// TestChunksInStatements runs an IN list over more ids than one chunk
// holds, on both databases, and finds every row once.
func TestChunksInStatements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, `CREATE TABLE chunk_t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 2*db.ChunkSize + 3 {
			id := fmt.Sprintf("id-%04d", i)
			ids = append(ids, id)
			if _, err := d.Exec(ctx, `INSERT INTO chunk_t (id, n) VALUES (?, ?)`, id, i); err != nil {
				t.Fatal(err)
			}
		}
		total, statements := 0, 0
		for c := range db.Chunks(ids) {
			statements++
			var k int
			if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM chunk_t WHERE id IN (`+db.In(len(c))+`)`, db.Args(nil, c)...).Scan(&k); err != nil {
				t.Fatal(err)
			}
			total += k
		}
		if total != len(ids) || statements != 3 {
			t.Errorf("%d rows in %d statements, want %d in 3", total, statements, len(ids))
		}
	})
}
