package vuln

import (
	"context"
	"slices"

	"github.com/medisac/medisac/internal/db"
)

// The database keeps counts of every organisation's findings
// (vuln_org_counts per active, state, priority and confidence;
// vuln_asset_counts of the findings that need work per asset), changed by
// triggers in the same transaction as the findings themselves, so that
// the summary and the totals of the findings list read a few rows instead
// of every finding.

// FindingCounts is the content of the kept counts of one organisation:
// vuln_org_counts rows by "active/state/priority/confidence" and
// vuln_asset_counts rows by asset id, without zero counts.
type FindingCounts struct {
	ByKind  map[string]int
	ByAsset map[string]int
}

// KeptCounts reads the counts the database keeps for the organisation.
func KeptCounts(ctx context.Context, q db.Querier, orgID string) (FindingCounts, error) {
	return readCounts(ctx, q,
		`SELECT active, state, priority, confidence, n FROM vuln_org_counts WHERE org_id = ? AND n <> 0`,
		`SELECT asset_id, n FROM vuln_asset_counts WHERE org_id = ? AND n <> 0`, orgID)
}

// CountedCounts counts the organisation's findings afresh, in the shape
// of KeptCounts.
func CountedCounts(ctx context.Context, q db.Querier, orgID string) (FindingCounts, error) {
	return readCounts(ctx, q,
		`SELECT active, state, priority, confidence, COUNT(*) FROM vuln_findings WHERE org_id = ? GROUP BY active, state, priority, confidence`,
		`SELECT asset_id, COUNT(*) FROM vuln_findings WHERE org_id = ? AND active AND state IN ('open','in_progress') GROUP BY asset_id`, orgID)
}

func readCounts(ctx context.Context, q db.Querier, kinds, assets, orgID string) (FindingCounts, error) {
	c := FindingCounts{ByKind: map[string]int{}, ByAsset: map[string]int{}}
	rows, err := q.Query(ctx, kinds, orgID)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var active bool
		var state, conf string
		var p, n int
		if err := rows.Scan(&active, &state, &p, &conf, &n); err != nil {
			rows.Close()
			return c, err
		}
		c.ByKind[countKey(active, state, p, conf)] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, err
	}
	rows, err = q.Query(ctx, assets, orgID)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return c, err
		}
		c.ByAsset[id] += n
	}
	return c, rows.Err()
}

func countKey(active bool, state string, priority int, conf string) string {
	a := "closed"
	if active {
		a = "active"
	}
	return a + "/" + state + "/" + string(rune('0'+priority)) + "/" + conf
}

// RebuildFindingCounts replaces the kept counts of the organisation (of
// every organisation when orgID is "") with a fresh count of its findings,
// in one transaction. The triggers keep the counts; this repairs them
// should they ever be wrong.
func RebuildFindingCounts(ctx context.Context, d *db.DB, orgID string) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		cond, args := "", []any(nil)
		if orgID != "" {
			cond, args = " WHERE org_id = ?", []any{orgID}
		}
		and := " WHERE"
		if orgID != "" {
			and = " AND"
		}
		for _, stmt := range []string{
			`DELETE FROM vuln_org_counts` + cond,
			`DELETE FROM vuln_asset_counts` + cond,
			`INSERT INTO vuln_org_counts (org_id, active, state, priority, confidence, n)
				SELECT org_id, active, state, priority, confidence, COUNT(*) FROM vuln_findings` + cond + `
				GROUP BY org_id, active, state, priority, confidence`,
			`INSERT INTO vuln_asset_counts (org_id, asset_id, n)
				SELECT org_id, asset_id, COUNT(*) FROM vuln_findings` + cond + and + ` active AND state IN ('open','in_progress')
				GROUP BY org_id, asset_id`,
		} {
			if _, err := tx.Exec(ctx, stmt, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// countFindings counts the organisation's findings that f selects in one
// segment of the list (active or closed), all of them when below is nil,
// else those before below in the list order. Without an asset or
// vulnerability in the filter it reads the kept counts, and counts
// findings only within below's priority; with one, the findings of that
// asset or vulnerability (an index range).
func countFindings(ctx context.Context, q db.Querier, orgID string, f FindingFilter, active bool, below *findingKey) (int, error) {
	if !active && !f.All {
		return 0, nil
	}
	if f.AssetID != "" || f.VulnID != "" {
		where, args := f.where(orgID)
		where += " AND f.active = ?"
		args = append(args, active)
		if below != nil {
			where += " AND (f.priority, f.rank, f.id) < (?, ?, ?)"
			args = append(args, below.priority, below.rank, below.id)
		}
		var n int
		err := q.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings f WHERE `+where, args...).Scan(&n)
		return n, err
	}
	cond, args := "org_id = ? AND active = ?", []any{orgID, active}
	if !f.All {
		cond += " AND state IN ('open','in_progress')"
	}
	if f.Priority > 0 {
		cond += " AND priority = ?"
		args = append(args, f.Priority)
	}
	if below != nil {
		cond += " AND priority < ?"
		args = append(args, below.priority)
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COALESCE(SUM(n), 0) FROM vuln_org_counts WHERE `+cond, args...).Scan(&n); err != nil {
		return 0, err
	}
	if below == nil {
		return n, nil
	}
	where, wargs := f.where(orgID)
	var m int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_findings f WHERE `+where+` AND f.active = ? AND f.priority = ? AND (f.rank, f.id) < (?, ?)`,
		slices.Concat(wargs, []any{active, below.priority, below.rank, below.id})...).Scan(&m)
	return n + m, err
}

// totalFindings is the number of the organisation's findings that f
// selects.
func totalFindings(ctx context.Context, q db.Querier, orgID string, f FindingFilter) (int, error) {
	n, err := countFindings(ctx, q, orgID, f, true, nil)
	if err != nil || !f.All {
		return n, err
	}
	m, err := countFindings(ctx, q, orgID, f, false, nil)
	return n + m, err
}

// findingsBefore is the number of findings that f selects before k in the
// list order.
func findingsBefore(ctx context.Context, q db.Querier, orgID string, f FindingFilter, k findingKey) (int, error) {
	if k.active {
		return countFindings(ctx, q, orgID, f, true, &k)
	}
	n, err := countFindings(ctx, q, orgID, f, true, nil)
	if err != nil {
		return 0, err
	}
	m, err := countFindings(ctx, q, orgID, f, false, &k)
	return n + m, err
}
