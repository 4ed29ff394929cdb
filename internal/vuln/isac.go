package vuln

import (
	"context"
	"slices"
	"strings"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

// MinGroup is the smallest number of organisations the ISAC view shows a
// count for: a group (a region or a kind of organisation) with fewer
// affected organisations is shown as "fewer than 5", and its remediation
// counts are withheld, so that no member can be singled out. Totals are
// shown only when at least MinGroup organisations are affected.
const MinGroup = 5

// regions maps prefectures to the eight regions of Japan.
var regions = map[string][]string{
	"hokkaido": {"北海道"},
	"tohoku":   {"青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県"},
	"kanto":    {"茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県"},
	"chubu":    {"新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県"},
	"kinki":    {"三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"},
	"chugoku":  {"鳥取県", "島根県", "岡山県", "広島県", "山口県"},
	"shikoku":  {"徳島県", "香川県", "愛媛県", "高知県"},
	"kyushu":   {"福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"},
}

// Regions lists the region codes in display order ("unknown" last).
var Regions = []string{"hokkaido", "tohoku", "kanto", "chubu", "kinki", "chugoku", "shikoku", "kyushu", "unknown"}

// RegionOf returns the region code of a prefecture name ("東京都", "東京").
func RegionOf(pref string) string {
	pref = strings.TrimSpace(pref)
	if pref == "" {
		return "unknown"
	}
	for code, ps := range regions {
		for _, p := range ps {
			if p == pref || strings.TrimRight(p, "都道府県") == pref {
				return code
			}
		}
	}
	return "unknown"
}

// GroupCount is one row of the ISAC view: a region or kind, how many
// organisations are affected, and the remediation progress of their
// findings by state. Hidden is set when fewer than MinGroup organisations
// are affected; the counts are then zero.
type GroupCount struct {
	Group  string        `json:"group"`
	Orgs   int           `json:"orgs"`
	Hidden bool          `json:"hidden"`
	States map[State]int `json:"states,omitempty"`
}

// ISACStats is what operators see about one vulnerability across the
// membership: never which organisation.
type ISACStats struct {
	VulnID   string       `json:"vuln_id"`
	Orgs     int          `json:"orgs"`
	Hidden   bool         `json:"hidden"`
	ByRegion []GroupCount `json:"by_region"`
	ByKind   []GroupCount `json:"by_kind"`
}

// VulnStats computes the ISAC view of one vulnerability: the organisations
// with findings of it (active, or closed after remediation), counted by
// region and by kind, with each organisation's findings in its most
// behind state (an organisation with one open device counts as open).
func VulnStats(ctx context.Context, q db.Querier, vulnID string) (ISACStats, error) {
	st := ISACStats{VulnID: vulnID}
	rows, err := q.Query(ctx, `SELECT o.id, o.prefecture, o.kind, f.state, f.active FROM vuln_findings f JOIN organizations o ON o.id = f.org_id
		WHERE f.vuln_id = ? AND (f.active OR f.state_reason = 'auto')`, vulnID)
	if err != nil {
		return st, err
	}
	type org struct {
		region, kind string
		state        State
	}
	orgs := map[string]*org{}
	order := map[State]int{StateOpen: 0, StateInProgress: 1, StateAccepted: 2, StateNotApplicable: 3, StateResolved: 4}
	for rows.Next() {
		var id, pref, kind, state string
		var active bool
		if err := rows.Scan(&id, &pref, &kind, &state, &active); err != nil {
			rows.Close()
			return st, err
		}
		s := State(state)
		if !active {
			s = StateResolved
		}
		o := orgs[id]
		if o == nil {
			o = &org{region: RegionOf(pref), kind: kind, state: s}
			orgs[id] = o
		} else if order[s] < order[o.state] {
			o.state = s
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	st.Orgs = len(orgs)
	if st.Orgs < MinGroup {
		st.Hidden = true
		st.Orgs = 0
		return st, nil
	}
	group := func(key func(*org) string, keys []string) []GroupCount {
		m := map[string]*GroupCount{}
		for _, o := range orgs {
			k := key(o)
			g := m[k]
			if g == nil {
				g = &GroupCount{Group: k, States: map[State]int{}}
				m[k] = g
			}
			g.Orgs++
			g.States[o.state]++
		}
		var out []GroupCount
		for _, k := range keys {
			if g, ok := m[k]; ok {
				if g.Orgs < MinGroup {
					g.Orgs, g.States, g.Hidden = 0, nil, true
				}
				out = append(out, *g)
			}
		}
		return out
	}
	st.ByRegion = group(func(o *org) string { return o.region }, Regions)
	kinds := []string{}
	for _, o := range orgs {
		if !slices.Contains(kinds, o.kind) {
			kinds = append(kinds, o.kind)
		}
	}
	slices.Sort(kinds)
	st.ByKind = group(func(o *org) string { return o.kind }, kinds)
	return st, nil
}

// TopAffected lists vulnerabilities by the number of member organisations
// with active findings, for the ISAC overview; vulnerabilities affecting
// fewer than MinGroup organisations are left out.
func TopAffected(ctx context.Context, q db.Querier, limit int) ([]ISACStats, error) {
	return db.QueryAll(ctx, q, func(r db.Scanner) (ISACStats, error) {
		var s ISACStats
		err := r.Scan(&s.VulnID, &s.Orgs)
		return s, err
	}, `SELECT vuln_id, COUNT(DISTINCT org_id) n FROM vuln_findings WHERE active GROUP BY vuln_id
		HAVING COUNT(DISTINCT org_id) >= ? ORDER BY n DESC, vuln_id LIMIT ?`, MinGroup, limit)
}

// Checker answers the sharing hub's "are we affected?" from the findings:
// it implements share.AffectedChecker.
type Checker struct{}

var _ share.AffectedChecker = Checker{}

// Affected reports whether the organisation has active findings of any of
// the CVEs (or of vulnerabilities cross-linked with them), naming the
// devices; not_affected when it has registered devices and none matches,
// unknown when it has registered none.
func (Checker) Affected(ctx context.Context, q db.Querier, orgID string, cves []string) (share.AffectedResult, error) {
	if len(cves) == 0 {
		return share.AffectedResult{State: share.AffectedUnknown}, nil
	}
	args := []any{orgID}
	for _, c := range cves {
		args = append(args, strings.ToUpper(strings.TrimSpace(c)))
	}
	args = append(args, args[1:]...)
	in := db.In(len(cves))
	rows, err := q.Query(ctx, `SELECT DISTINCT a.name FROM vuln_findings f JOIN inv_assets a ON a.id = f.asset_id AND a.org_id = f.org_id
		WHERE f.org_id = ? AND f.active AND f.state <> 'not_applicable'
		AND (f.vuln_id IN (`+in+`) OR f.vuln_id IN (SELECT vuln_id FROM vuln_refs WHERE ref_id IN (`+in+`))) ORDER BY a.name`, args...)
	if err != nil {
		return share.AffectedResult{}, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return share.AffectedResult{}, err
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return share.AffectedResult{}, err
	}
	if len(names) > 0 {
		return share.AffectedResult{State: share.AffectedYes, Assets: names}, nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_asset_identity WHERE org_id = ? AND NOT retired`, orgID).Scan(&n); err != nil {
		return share.AffectedResult{}, err
	}
	if n == 0 {
		return share.AffectedResult{State: share.AffectedUnknown}, nil
	}
	return share.AffectedResult{State: share.AffectedNo}, nil
}

var _ share.OrgsAffectedChecker = Checker{}

// OrgsAffected returns, of the given organisations, those with active
// findings (not marked 該当なし) of any of the CVEs or of vulnerabilities
// cross-linked with them, in one query per 500 organisations.
func (Checker) OrgsAffected(ctx context.Context, q db.Querier, orgIDs, cves []string) ([]string, error) {
	if len(orgIDs) == 0 || len(cves) == 0 {
		return nil, nil
	}
	var ids []any
	for _, c := range cves {
		ids = append(ids, strings.ToUpper(strings.TrimSpace(c)))
	}
	in := db.In(len(ids))
	var out []string
	for chunk := range db.Chunks(orgIDs) {
		args := append(append(db.Args(nil, chunk), ids...), ids...)
		rows, err := q.Query(ctx, `SELECT DISTINCT org_id FROM vuln_findings WHERE org_id IN (`+db.In(len(chunk))+`) AND active AND state <> 'not_applicable'
			AND (vuln_id IN (`+in+`) OR vuln_id IN (SELECT vuln_id FROM vuln_refs WHERE ref_id IN (`+in+`))) ORDER BY org_id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
