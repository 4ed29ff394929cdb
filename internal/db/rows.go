package db

import "context"

// Scanner is what a row-reading function needs of a *sql.Row or *sql.Rows.
// It is an alias, so that a function declared with the same interface
// written out serves as the scan argument of QueryAll.
type Scanner = interface{ Scan(dest ...any) error }

// QueryAll runs query and returns its rows, each read by scan, in order
// (nil when there are none).
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
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
