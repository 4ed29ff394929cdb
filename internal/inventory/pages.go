package inventory

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Paged lists: the API's record lists filter and page in SQL, in the order
// of the full lists (ListSegments, ListConnections, …), with keyset
// cursors. A cursor is the id of the last record of the previous page
// (base64url); the next page holds the records after it in the list's
// order, found by comparing the order columns with that record's.

// PageQuery is the cursor and size of a page; Limit is bounded by
// DefaultPageSize and MaxPageSize.
type PageQuery struct {
	Cursor string
	Limit  int
}

func (p PageQuery) limit() int {
	if p.Limit <= 0 {
		return DefaultPageSize
	}
	return min(p.Limit, MaxPageSize)
}

// Page is one page of a list and the cursor of the next ("" on the last).
type Page[T any] struct {
	Items []T
	Next  string
}

// keyset describes the paging of one kind: its select (every column named
// with the alias), the alias, its table and its order columns (the last
// is id).
type keyset struct {
	sel, alias, table string
	order             []string
}

func (k keyset) col(c string) string {
	if k.alias == "" {
		return c
	}
	return k.alias + "." + c
}

// pageOf reads one page: rows of orgID matching where (conditions on the
// alias, "" for none) in the keyset's order, after the cursor's record.
// keep drops rows after reading (filters SQL cannot express, such as
// flags); post completes the records of a batch (flags, linked systems).
func pageOf[T any](ctx context.Context, q db.Querier, orgID string, k keyset, where string, args []any, pq PageQuery,
	scan func(scanner) (T, error), id func(T) string, post func([]T) error, keep func(T) bool) (Page[T], error) {
	limit := pq.limit()
	after := ""
	if pq.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(pq.Cursor)
		if err != nil || !db.ValidID(string(b)) {
			return Page[T]{}, apperr.Field("cursor", "inventory.error.bad_cursor")
		}
		var one int
		err = db.ScanErr(q.QueryRow(ctx, "SELECT 1 FROM "+k.table+" WHERE org_id = ? AND id = ?", orgID, string(b)).Scan(&one))
		if errors.Is(err, db.ErrNotFound) {
			return Page[T]{}, apperr.Field("cursor", "inventory.error.bad_cursor")
		}
		if err != nil {
			return Page[T]{}, err
		}
		after = string(b)
	}
	cols := make([]string, len(k.order))
	for i, c := range k.order {
		cols[i] = k.col(c)
	}
	out := Page[T]{Items: []T{}}
	for {
		query := k.sel + " WHERE " + k.col("org_id") + " = ?"
		qargs := append([]any{orgID}, args...)
		if where != "" {
			query += " AND " + where
		}
		if after != "" {
			query += " AND (" + strings.Join(cols, ", ") + ") > (SELECT " + strings.Join(k.order, ", ") + " FROM " + k.table + " WHERE org_id = ? AND id = ?)"
			qargs = append(qargs, orgID, after)
		}
		query += " ORDER BY " + strings.Join(cols, ", ") + " LIMIT " + strconv.Itoa(limit+1)
		batch, err := db.QueryAll(ctx, q, scan, query, qargs...)
		if err != nil {
			return out, err
		}
		if post != nil {
			if err := post(batch); err != nil {
				return out, err
			}
		}
		for _, x := range batch {
			after = id(x)
			if keep != nil && !keep(x) {
				continue
			}
			out.Items = append(out.Items, x)
			if len(out.Items) > limit {
				out.Items = out.Items[:limit]
				out.Next = base64.RawURLEncoding.EncodeToString([]byte(id(out.Items[limit-1])))
				return out, nil
			}
		}
		if len(batch) <= limit {
			return out, nil
		}
	}
}

// filters builds the conditions of a page from column = value pairs,
// leaving out empty values.
func filters(k keyset, pairs ...string) (string, []any) {
	var where []string
	var args []any
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			where = append(where, k.col(pairs[i])+" = ?")
			args = append(args, pairs[i+1])
		}
	}
	return strings.Join(where, " AND "), args
}

var (
	segmentKeys  = keyset{sel: segmentSelect, table: "inv_segments", order: []string{"name", "id"}}
	commKeys     = keyset{sel: commSelect, table: "inv_communications", order: []string{"created_at", "id"}}
	connKeys     = keyset{sel: connSelect, alias: "c", table: "inv_connections", order: []string{"name", "id"}}
	vendorKeys   = keyset{sel: vendorSelect, table: "inv_vendors", order: []string{"name", "id"}}
	systemKeys   = keyset{sel: systemSelect, table: "inv_systems", order: []string{"name", "id"}}
	contractKeys = keyset{sel: contractSelect, table: "inv_contracts", order: []string{"end_on", "title", "id"}}
	accountKeys  = keyset{sel: accountSelect, table: "inv_accounts", order: []string{"username", "id"}}
)

// PageSegments returns a page of the organisation's segments in name
// order; kind, when set, keeps only that kind.
func PageSegments(ctx context.Context, q db.Querier, orgID string, kind SegmentKind, pq PageQuery) (Page[Segment], error) {
	where, args := filters(segmentKeys, "kind", string(kind))
	return pageOf(ctx, q, orgID, segmentKeys, where, args, pq, scanSegment, func(x Segment) string { return x.ID }, nil, nil)
}

// PageCommunications returns a page of the organisation's allowed
// communications (as ListCommunications).
func PageCommunications(ctx context.Context, q db.Querier, orgID, assetID string, pq PageQuery) (Page[Communication], error) {
	where, args := filters(commKeys, "asset_id", assetID)
	return pageOf(ctx, q, orgID, commKeys, where, args, pq, scanComm, func(x Communication) string { return x.ID }, nil, nil)
}

// ConnectionFilter narrows PageConnections; zero fields do not filter.
type ConnectionFilter struct {
	Type    ConnType
	Manager Manager
	// Flagged keeps only connections with at least one flag.
	Flagged bool
}

// PageConnections returns a page of the organisation's external
// connections in name order with their flags as of today.
func PageConnections(ctx context.Context, q db.Querier, orgID string, f ConnectionFilter, today Date, pq PageQuery) (Page[Connection], error) {
	where, args := filters(connKeys, "type", string(f.Type), "manager", string(f.Manager))
	var keep func(Connection) bool
	if f.Flagged {
		keep = func(c Connection) bool { return len(c.Flags) > 0 }
	}
	return pageOf(ctx, q, orgID, connKeys, where, args, pq, scanConn, func(x Connection) string { return x.ID },
		func(cs []Connection) error { return connectionFlags(ctx, q, orgID, cs, today) }, keep)
}

// connectionFlags fills the flags of cs as of today.
func connectionFlags(ctx context.Context, q db.Querier, orgID string, cs []Connection, today Date) error {
	devices := map[string]*Asset{}
	for i := range cs {
		var dev *Asset
		if id := cs[i].AssetID; id != "" {
			if _, ok := devices[id]; !ok {
				a, err := GetAsset(ctx, q, orgID, id)
				if err != nil {
					return err
				}
				devices[id] = &a
			}
			dev = devices[id]
		}
		cs[i].Flags = ConnectionFlags(cs[i], dev, today)
	}
	return nil
}

// PageVendors returns a page of the organisation's vendors in name order.
func PageVendors(ctx context.Context, q db.Querier, orgID string, pq PageQuery) (Page[Vendor], error) {
	return pageOf(ctx, q, orgID, vendorKeys, "", nil, pq, scanVendor, func(x Vendor) string { return x.ID }, nil, nil)
}

// PageSystems returns a page of the organisation's systems in name order;
// vendorID, when set, keeps only that vendor's.
func PageSystems(ctx context.Context, q db.Querier, orgID, vendorID string, pq PageQuery) (Page[System], error) {
	where, args := filters(systemKeys, "vendor_id", vendorID)
	return pageOf(ctx, q, orgID, systemKeys, where, args, pq, scanSystem, func(x System) string { return x.ID }, nil, nil)
}

// PageContracts returns a page of the organisation's contracts ordered by
// end date (as ListContracts).
func PageContracts(ctx context.Context, q db.Querier, orgID, vendorID string, pq PageQuery) (Page[Contract], error) {
	where, args := filters(contractKeys, "vendor_id", vendorID)
	return pageOf(ctx, q, orgID, contractKeys, where, args, pq, scanContract, func(x Contract) string { return x.ID },
		func(cs []Contract) error {
			for i := range cs {
				if err := cs[i].loadSystems(ctx, q, orgID); err != nil {
					return err
				}
			}
			return nil
		}, nil)
}

// PageAccounts returns a page of the organisation's accounts ordered by
// user name, with their flags as of today.
func PageAccounts(ctx context.Context, q db.Querier, orgID string, f AccountFilter, today Date, pq PageQuery) (Page[Account], error) {
	where, args := filters(accountKeys, "system_id", f.SystemID, "asset_id", f.AssetID)
	var keep func(Account) bool
	if f.Flagged {
		keep = func(a Account) bool { return len(a.Flags) > 0 }
	}
	return pageOf(ctx, q, orgID, accountKeys, where, args, pq, func(r scanner) (Account, error) { return scanAccount(r, today) },
		func(x Account) string { return x.ID }, nil, keep)
}
