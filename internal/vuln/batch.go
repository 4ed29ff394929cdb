package vuln

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

// batch writes rows with multi-row INSERT statements; rows with the same
// key within one statement are merged (the last wins), as PostgreSQL
// refuses to update one row twice in a statement.
type batch struct {
	q     db.Querier
	head  string
	tail  string
	cols  int
	max   int
	keys  map[string]int
	args  []any
	cache map[int]string
}

func newBatch(q db.Querier, table string, cols []string, tail string, max int) *batch {
	return &batch{q: q, head: "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ",
		tail: " " + tail, cols: len(cols), max: max, keys: map[string]int{}, cache: map[int]string{}}
}

func (b *batch) add(ctx context.Context, key string, vals ...any) error {
	if len(vals) != b.cols {
		return fmt.Errorf("vuln: batch row has %d values, want %d", len(vals), b.cols)
	}
	if i, ok := b.keys[key]; ok {
		copy(b.args[i*b.cols:], vals)
		return nil
	}
	b.keys[key] = len(b.args) / b.cols
	b.args = append(b.args, vals...)
	if len(b.args)/b.cols >= b.max {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	n := len(b.args) / b.cols
	if n == 0 {
		return nil
	}
	q, ok := b.cache[n]
	if !ok {
		row := "(" + db.In(b.cols) + ")"
		var sb strings.Builder
		sb.WriteString(b.head)
		for i := 0; i < n; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(row)
		}
		sb.WriteString(b.tail)
		q = sb.String()
		b.cache[n] = q
	}
	if _, err := b.q.Exec(ctx, q, b.args...); err != nil {
		return err
	}
	b.args = b.args[:0]
	clear(b.keys)
	return nil
}

// importer holds the batches one import writes.
type importer struct {
	vulns, rules, refs, keys *batch
	now                      time.Time
}

var vulnCols = []string{"id", "title", "title_ja", "description", "summary_ja", "nvd_status", "withdrawn", "published", "modified",
	"cvss_score", "cvss_version", "cvss_severity", "cvss_vector", "cwes", "updated_at"}

func (w *Watch) newImporter(tx db.Querier, now time.Time, vulnTail string) *importer {
	n := w.BatchSize
	return &importer{now: now,
		vulns: newBatch(tx, "vuln_vulns", vulnCols, vulnTail, n),
		rules: newBatch(tx, "vuln_rules", []string{"vuln_id", "source", "source_id", "rules", "pending", "wildcard", "rule_keys", "fixed", "updated_at"},
			`ON CONFLICT (vuln_id, source, source_id) DO UPDATE SET rules = excluded.rules, pending = excluded.pending,
			wildcard = excluded.wildcard, rule_keys = excluded.rule_keys, fixed = excluded.fixed, updated_at = excluded.updated_at
			WHERE vuln_rules.rules <> excluded.rules`, n),
		refs: newBatch(tx, "vuln_refs", []string{"vuln_id", "ref_id", "source", "url", "title"},
			`ON CONFLICT (vuln_id, ref_id) DO UPDATE SET url = excluded.url, title = excluded.title`, n),
		keys: newBatch(tx, "vuln_rule_keys", []string{"rkey", "vuln_id"}, `ON CONFLICT (rkey, vuln_id) DO NOTHING`, n*2),
	}
}

func (im *importer) batches() []*batch { return []*batch{im.vulns, im.rules, im.refs, im.keys} }

func (im *importer) flush(ctx context.Context) error {
	for _, b := range im.batches() {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) rule(ctx context.Context, vulnID, source, sourceID string, r *match.Rules) error {
	st, err := storeRules(r)
	if err != nil {
		return err
	}
	return im.ruleData(ctx, vulnID, source, sourceID, st)
}

// storeRules encodes compiled rules for storage.
func storeRules(r *match.Rules) (feed.StoredRules, error) {
	data, err := match.MarshalRules(r)
	if err != nil {
		return feed.StoredRules{}, err
	}
	keys, wild := r.Keys()
	return feed.StoredRules{Data: data, Keys: keys, Wild: wild, Fixed: r.FixedVersions(), Pending: r.Pending}, nil
}

func (im *importer) ruleData(ctx context.Context, vulnID, source, sourceID string, r feed.StoredRules) error {
	if !r.Pending {
		for _, k := range r.Keys {
			if err := im.keys.add(ctx, k+"\x00"+vulnID, k, vulnID); err != nil {
				return err
			}
		}
		if r.Wild {
			if err := im.keys.add(ctx, "*\x00"+vulnID, "*", vulnID); err != nil {
				return err
			}
		}
	}
	return im.rules.add(ctx, vulnID+"\x00"+source+"\x00"+sourceID, vulnID, source, sourceID, string(r.Data), r.Pending, r.Wild,
		strings.Join(r.Keys, " "), strings.Join(r.Fixed, " "), im.now)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}
