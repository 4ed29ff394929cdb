package db

import "context"

// Scanner is what a row-reading function needs of a *sql.Row or *sql.Rows.
// It is an alias, so that a function declared with the same interface
// written out serves as the scan argument of QueryAll.
type Scanner = interface{ Scan(dest ...any) error }

// EachRow runs query and calls fn with each of its rows, in order, until
// fn returns an error (returned as it is).
func EachRow(ctx context.Context, q Querier, query string, args []any, fn func(Scanner) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// QueryAll runs query and returns its rows, each read by scan, in order
// (nil when there are none).
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := EachRow(ctx, q, query, args, func(r Scanner) error {
		v, err := scan(r)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryMap runs query and returns its rows as a map, each row read by scan
// into a key and a value (of rows with the same key the last wins); an
// empty map, not nil, when there are none.
func QueryMap[K comparable, V any](ctx context.Context, q Querier, scan func(Scanner) (K, V, error), query string, args ...any) (map[K]V, error) {
	out := map[K]V{}
	err := EachRow(ctx, q, query, args, func(r Scanner) error {
		k, v, err := scan(r)
		out[k] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryStrings runs a query of one text column and returns its values, in
// order (nil when there are none).
func QueryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	return QueryAll(ctx, q, func(r Scanner) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	}, query, args...)
}
