package db

import (
	"iter"
	"slices"
)

// ChunkSize is how many values one IN (…) list of a statement holds: far
// below SQLite's limit of 32,766 bound parameters and PostgreSQL's 65,535,
// and small enough that a statement stays short.
const ChunkSize = 500

// Chunks yields s in consecutive slices of at most ChunkSize elements, in
// order, for statements that take a list of values with In(len(chunk)).
// An empty s yields nothing. The slices share s's array but their
// capacity ends with them, so appending to one never writes into the
// next.
func Chunks[E any](s []E) iter.Seq[[]E] {
	return slices.Chunk(s, ChunkSize)
}

// Args returns head followed by the elements of vals, as the arguments
// of a statement whose IN (…) list holds vals.
func Args[E any](head []any, vals []E) []any {
	out := make([]any, 0, len(head)+len(vals))
	out = append(out, head...)
	for _, v := range vals {
		out = append(out, v)
	}
	return out
}
