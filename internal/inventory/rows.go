package inventory

import (
	"context"

	"github.com/medisac/medisac/internal/db"
)

// The frame every record kind of the register is read, changed and
// removed in; each kind gives its own query, checks and columns.

// getter reads one record of an organisation by id (db.ErrNotFound when
// there is none).
type getter[T any] func(ctx context.Context, q db.Querier, orgID, id string) (T, error)

// listRows reads every row of query with scan: an empty list, not nil,
// when there are none (a JSON array).
func listRows[T any](ctx context.Context, q db.Querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	out, err := db.QueryAll(ctx, q, scan, query, args...)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// replaceRow is an update of record id: it reads the record before, runs
// write (check the new values and store them; db.ErrNotFound when no row
// changed) and reads the record after.
func replaceRow[T any](ctx context.Context, q db.Querier, orgID, id string, get getter[T], write func() error) (before, after T, err error) {
	if before, err = get(ctx, q, orgID, id); err != nil {
		return before, after, err
	}
	if err := write(); err != nil {
		return before, after, err
	}
	after, err = get(ctx, q, orgID, id)
	return before, after, err
}

// deleteRow removes record id of the organisation from table (a constant
// of this package) and returns it as it was.
func deleteRow[T any](ctx context.Context, q db.Querier, table, orgID, id string, get getter[T]) (T, error) {
	before, err := get(ctx, q, orgID, id)
	if err != nil {
		return before, err
	}
	res, err := q.Exec(ctx, "DELETE FROM "+table+" WHERE org_id = ? AND id = ?", orgID, id)
	return before, affected(res, err)
}

// asOf is get for a record whose flags are worked out as of today.
func asOf[T any](get func(ctx context.Context, q db.Querier, orgID, id string, today Date) (T, error), today Date) getter[T] {
	return func(ctx context.Context, q db.Querier, orgID, id string) (T, error) {
		return get(ctx, q, orgID, id, today)
	}
}
