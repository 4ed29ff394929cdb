package vuln

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

// Job kinds and periodic task names of the watch.
const (
	JobMatch        = "vuln.match"
	JobMatchAll     = "vuln.match_all"
	JobReprioritise = "vuln.reprioritise"
	JobAlert        = "vuln.alert"
	JobWebhook      = "vuln.webhook"
	TaskRematch     = "vuln.rematch_changed_assets"
	TaskDigest      = "vuln.digest"
	TaskSync        = "vuln.sync"
	// TaskImportRecover marks imports whose process died as interrupted
	// and matches what they committed (see RecoverImports).
	TaskImportRecover = "vuln.import_recover"
	RematchInterval   = 30 * time.Second
	maxVulnsPerChunk  = 300
)

type matchPayload struct {
	Since time.Time `json:"since"`
}

// State is the remediation state of a finding.
type State string

// The remediation states: 未対応, 対応中, 対応済, リスク受容 (with a reason and
// a review date) and 該当なし (with a reason).
const (
	StateOpen          State = "open"
	StateInProgress    State = "in_progress"
	StateResolved      State = "resolved"
	StateAccepted      State = "accepted"
	StateNotApplicable State = "not_applicable"
)

// States lists the remediation states in menu order.
var States = []State{StateOpen, StateInProgress, StateResolved, StateAccepted, StateNotApplicable}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Priorities, 1 the most urgent. See docs/architecture.md, "Vulnerability
// priority".
const (
	PriorityNow      = 1 // 今すぐ
	PriorityUrgent   = 2 // 至急
	PrioritySoon     = 3 // 早めに
	PriorityPlanned  = 4 // 計画的に
	ransomwareWeight = 200000
)

// PriorityInput is what the priority of a finding is computed from.
type PriorityInput struct {
	KEV, Ransomware     bool
	CVSS, EPSS          float64
	External, VPN       bool
	Exposed             bool
	Exact               bool
	Withdrawn, Resolved bool
}

// Priority computes the priority (1 今すぐ … 4 計画的に) and a rank that
// orders findings within a priority (lower first):
//
//   - 1: known exploited (KEV) and the device terminates an external
//     connection or is reachable from the internet;
//   - 2: known exploited elsewhere, or CVSS ≥ 9.0 or EPSS ≥ 0.5 on such a
//     device;
//   - 3: CVSS ≥ 7.0, EPSS ≥ 0.1, or any finding on such a device;
//   - 4: everything else.
//
// Within a priority, VPN devices come first, then known ransomware use,
// confirmed versions, EPSS and CVSS.
func Priority(in PriorityInput) (priority, rank int) {
	edge := in.External || in.Exposed
	switch {
	case in.KEV && edge:
		priority = PriorityNow
	case in.KEV || (edge && (in.CVSS >= 9 || in.EPSS >= 0.5)):
		priority = PriorityUrgent
	case in.CVSS >= 7 || in.EPSS >= 0.1 || edge:
		priority = PrioritySoon
	default:
		priority = PriorityPlanned
	}
	rank = 1000000
	if in.VPN {
		rank -= 400000
	}
	if in.Ransomware {
		rank -= ransomwareWeight
	}
	if in.Exact {
		rank -= 100000
	}
	rank -= int(in.EPSS*50000) + int(in.CVSS*1000)
	return priority, rank
}

// storedRule is one source's rules for a vulnerability.
type storedRule struct {
	vulnID, source, sourceID string
	rules                    *match.Rules
	csafIndex                int
	pending                  bool
	// productOnly is set when every vulnerable criterion names the product
	// without versions (KEV, JVN entries whose versions are only text).
	productOnly bool
}

// vulnFacts are the per-vulnerability facts priority needs.
type vulnFacts struct {
	kev, ransomware, withdrawn bool
	cvss, epss                 float64
}

// hit is the combined answer of every source for one asset and one
// vulnerability.
type hit struct {
	// shared is set on a hit that several assets' entries point to; it is
	// cloned before a second source adds to one of them.
	shared  bool
	exact   bool
	reasons []string
	sources []string
	fixed   []string
	matched string
}

func (h *hit) clone() *hit {
	return &hit{exact: h.exact, reasons: slices.Clone(h.reasons), sources: slices.Clone(h.sources), fixed: slices.Clone(h.fixed), matched: h.matched}
}

func (h *hit) add(source string, res match.Result, fixed []string) {
	if res.Confidence == match.ConfidenceExact {
		h.exact = true
	}
	for _, r := range res.Reasons {
		if !slices.Contains(h.reasons, string(r)) {
			h.reasons = append(h.reasons, string(r))
		}
	}
	if !slices.Contains(h.sources, source) {
		h.sources = append(h.sources, source)
	}
	for _, f := range fixed {
		if !slices.Contains(h.fixed, f) {
			h.fixed = append(h.fixed, f)
		}
	}
	if h.matched == "" && len(res.Hits) > 0 && res.Hits[0].Identity != nil {
		h.matched = res.Hits[0].Identity.Name.FormatFS()
	}
}

// versioned reports whether some source has version data for the
// vulnerability: sources that name the product only (KEV, JVN text
// versions) then add nothing, so a device updated past the fixed version
// is not kept 「要確認」 by them alone.
func versioned(rs []storedRule) bool {
	for _, r := range rs {
		if !r.pending && !r.productOnly {
			return true
		}
	}
	return false
}

func productOnly(r *match.Rules) bool {
	any := false
	for cr := range r.Vulnerable() {
		if !cr.ProductOnly {
			return false
		}
		any = true
	}
	return any
}

// loadRules reads the stored rules of vulnerabilities, by id.
func (w *Watch) loadRules(ctx context.Context, q db.Querier, ids []string) (map[string][]storedRule, map[string]vulnFacts, error) {
	out := map[string][]storedRule{}
	facts := map[string]vulnFacts{}
	for chunk := range db.Chunks(ids) {
		args, in := db.Args(nil, chunk), db.In(len(chunk))
		// In a fixed order: a device several sources match lists their
		// fixed versions in the same order every run, so its finding does
		// not look changed (and alert again) when PostgreSQL returns rows
		// in another order.
		rows, err := q.Query(ctx, `SELECT vuln_id, source, source_id, rules, pending FROM vuln_rules WHERE vuln_id IN (`+in+`)
			ORDER BY vuln_id, source, source_id`, args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var sr storedRule
			var data string
			if err := rows.Scan(&sr.vulnID, &sr.source, &sr.sourceID, &data, &sr.pending); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if sr.source == "csaf" {
				sr.csafIndex, _ = strconv.Atoi(data)
			} else if !sr.pending {
				r, err := match.UnmarshalRules([]byte(data), w.Reg)
				if err != nil {
					w.Logger.Warn("vuln: stored rules unreadable", "vuln", sr.vulnID, "source", sr.source, "err", err)
					continue
				}
				sr.rules = r
				sr.productOnly = productOnly(r)
			}
			out[sr.vulnID] = append(out[sr.vulnID], sr)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		rows, err = q.Query(ctx, `SELECT v.id, v.withdrawn, v.cvss_score, k.cve IS NOT NULL, COALESCE(k.ransomware, FALSE), COALESCE(e.score, 0)
			FROM vuln_vulns v LEFT JOIN vuln_kev k ON k.cve = v.id LEFT JOIN vuln_epss e ON e.cve = v.id WHERE v.id IN (`+in+`)`, args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var id string
			var f vulnFacts
			if err := rows.Scan(&id, &f.withdrawn, &f.cvss, &f.kev, &f.ransomware, &f.epss); err != nil {
				rows.Close()
				return nil, nil, err
			}
			facts[id] = f
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return out, facts, nil
}

// csafCache keeps parsed CSAF documents for one matching run.
type csafCache map[string]*feed.CSAFDocument

func (w *Watch) csafDoc(ctx context.Context, q db.Querier, cache csafCache, id string) (*feed.CSAFDocument, []string, error) {
	if d, ok := cache[id]; ok {
		return d, nil, nil
	}
	var body, vendors string
	if err := q.QueryRow(ctx, `SELECT body, vendors FROM vuln_docs WHERE id = ?`, id).Scan(&body, &vendors); err != nil {
		return nil, nil, db.ScanErr(err)
	}
	d, err := feed.ParseCSAF(bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, nil, err
	}
	cache[id] = d
	return d, strings.Fields(vendors), nil
}

// assetFacts is what findings need from an asset identity row.
type assetFacts struct {
	org                            string
	vendor, product, model, ver    string
	external, vpn, exposed, retire bool
}

func (w *Watch) loadAssetFacts(ctx context.Context, q db.Querier, where string, args ...any) (map[string]*assetFacts, error) {
	rows, err := q.Query(ctx, `SELECT asset_id, org_id, vendor, product, model, version, external, vpn, exposed, retired FROM vuln_asset_identity WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*assetFacts{}
	for rows.Next() {
		var id string
		f := &assetFacts{}
		if err := rows.Scan(&id, &f.org, &f.vendor, &f.product, &f.model, &f.ver, &f.external, &f.vpn, &f.exposed, &f.retire); err != nil {
			return nil, err
		}
		out[id] = f
	}
	return out, rows.Err()
}

// matcher is an Index or its Pruner.
type matcher interface {
	Match(r *match.Rules) []match.GroupResult
}

// matchVuln evaluates every source of one vulnerability against the index
// and returns the affected assets.
func (w *Watch) matchVuln(ctx context.Context, q db.Querier, x matcher, rs []storedRule, cache csafCache) (map[string]*hit, error) {
	hits := map[string]*hit{}
	skipProductOnly := versioned(rs)
	for _, r := range rs {
		if r.pending || (skipProductOnly && r.productOnly) {
			continue
		}
		if r.source == "csaf" {
			doc, vendors, err := w.csafDoc(ctx, q, cache, r.sourceID)
			if err != nil {
				return nil, err
			}
			if vendors == nil {
				for _, p := range doc.Products() {
					if k := w.Aliases.VendorKey(p.Vendor); k != "" && !slices.Contains(vendors, k) {
						vendors = append(vendors, k)
					}
				}
			}
			if len(vendors) == 0 {
				continue
			}
			args := make([]any, len(vendors))
			for i, v := range vendors {
				args[i] = v
			}
			assets, err := w.loadAssetFacts(ctx, q, `NOT retired AND vendor_key IN (`+db.In(len(vendors))+`)`, args...)
			if err != nil {
				return nil, err
			}
			for id, a := range assets {
				if ms := doc.MatchAsset(r.csafIndex, w.Aliases, w.Reg, a.vendor, a.product, a.model, a.ver); len(ms) > 0 {
					h := hits[id]
					if h == nil {
						h = &hit{}
					} else if h.shared {
						h = h.clone()
					}
					hits[id] = h
					addCSAF(h, ms)
				}
			}
			continue
		}
		if r.rules == nil {
			continue
		}
		addGroups(hits, r.source, x.Match(r.rules))
	}
	return hits, nil
}

// addGroups adds one source's results to hits. The assets of one result
// share one hit until a second source adds to an asset's: a CVE affecting
// 100,000 devices in a few groups then costs a map entry per device, not
// a hit.
func addGroups(hits map[string]*hit, source string, grs []match.GroupResult) {
	for _, g := range grs {
		shared := &hit{shared: true}
		shared.add(source, g.Result, match.FixedFor(g.Result))
		addShared(hits, g.AssetIDs, shared, source, g.Result)
	}
}

func addShared(hits map[string]*hit, ids []string, shared *hit, source string, res match.Result) {
	for _, id := range ids {
		h := hits[id]
		if h == nil {
			hits[id] = shared
			continue
		}
		if h.shared {
			h = h.clone()
			hits[id] = h
		}
		h.add(source, res, match.FixedFor(res))
	}
}

// vulnMatch is one vulnerability's result from the index: while a single
// source matched, the index's results as they are, each with one hit its
// assets share; once a second source matched, a hit per asset.
type vulnMatch struct {
	groups []match.GroupResult
	shared []*hit
	source string
	hits   map[string]*hit
}

// matchVulnGroups is matchVuln for vulnerabilities without CSAF rules.
func matchVulnGroups(x matcher, rs []storedRule) *vulnMatch {
	vm := &vulnMatch{}
	skipProductOnly := versioned(rs)
	for _, r := range rs {
		if r.pending || (skipProductOnly && r.productOnly) || r.source == "csaf" || r.rules == nil {
			continue
		}
		grs := x.Match(r.rules)
		if len(grs) == 0 {
			continue
		}
		if vm.hits == nil && vm.groups == nil {
			vm.groups, vm.source = grs, r.source
			for _, g := range grs {
				h := &hit{shared: true}
				h.add(r.source, g.Result, match.FixedFor(g.Result))
				vm.shared = append(vm.shared, h)
			}
			continue
		}
		if vm.hits == nil {
			vm.hits = vm.hitMap()
			vm.groups, vm.shared = nil, nil
		}
		addGroups(vm.hits, r.source, grs)
	}
	return vm
}

// hitMap returns the result as a hit per asset.
func (vm *vulnMatch) hitMap() map[string]*hit {
	if vm.hits != nil {
		return vm.hits
	}
	n := 0
	for _, g := range vm.groups {
		n += len(g.AssetIDs)
	}
	hits := make(map[string]*hit, n)
	for i, g := range vm.groups {
		addShared(hits, g.AssetIDs, vm.shared[i], vm.source, g.Result)
	}
	return hits
}

// digest is findingsDigest of the result. While it is the index's
// results, the exposure each asset's result carries is used, and what
// depends on it is hashed once per result and exposure.
func (vm *vulnMatch) digest(f vulnFacts, orgs map[string]string, exposure map[string]*exposureFacts) string {
	if vm.hits != nil || len(vm.groups) == 0 {
		return findingsDigest(f, vm.hits, orgs, exposure)
	}
	var d digestSum
	for gi, g := range vm.groups {
		h := vm.shared[gi]
		slices.Sort(h.sources)
		var rest [8]uint64
		var have [8]bool
		for i, id := range g.AssetIDs {
			info := g.Info[i]
			var cls uint8
			if info&infoKnown != 0 {
				cls = info & 7
			} else {
				ex := exposure[id]
				if orgs[id] == "" || ex == nil {
					continue
				}
				cls = ex.class()
			}
			if !have[cls] {
				rest[cls], have[cls] = restHash(f, &exposureValues[cls], h), true
			}
			d.add(idHash(id), rest[cls])
		}
	}
	return d.String(f)
}

func addCSAF(h *hit, ms []feed.CSAFMatch) {
	res := match.Result{Affected: true, Confidence: match.ConfidenceProduct}
	var fixed []string
	for _, m := range ms {
		if m.Confidence == match.ConfidenceExact {
			res.Confidence = match.ConfidenceExact
		} else if m.Reason != "" {
			res.Reasons = append(res.Reasons, m.Reason)
		}
		fixed = append(fixed, m.Fixed...)
	}
	if res.Confidence == match.ConfidenceExact {
		res.Reasons = nil
	}
	h.add("csaf", res, fixed)
}

// existing is a stored finding, for deciding what changed.
type existing struct {
	id, asset, confidence, sources, fixed string
	priority, rank                        int
	active                                bool
}

// MatchStats says what one matching run did.
type MatchStats struct {
	Vulns    int `json:"vulns"`
	Assets   int `json:"assets"`
	Findings int `json:"findings"`
	New      int `json:"new"`
	Changed  int `json:"changed"`
	Closed   int `json:"closed"`
	// Seconds says where the time went.
	Seconds struct {
		Identities float64 `json:"identities"`
		Index      float64 `json:"index"`
		Match      float64 `json:"match"`
		Write      float64 `json:"write"`
		Alert      float64 `json:"alert"`
	} `json:"seconds"`
}

func (s *MatchStats) addUp(o MatchStats) {
	s.Findings += o.Findings
	s.New += o.New
	s.Changed += o.Changed
	s.Closed += o.Closed
}

// MatchChanged matches the vulnerabilities changed since t (their data or
// any source's rules) against every asset, writes the findings and sends
// the alerts; this is what an import triggers. Assets new or changed in
// the inventory are brought up to date first.
func (w *Watch) MatchChanged(ctx context.Context, since time.Time) (MatchStats, error) {
	w.init()
	w.idx.matchMu.Lock()
	defer w.idx.matchMu.Unlock()
	if _, err := w.matchAssets(ctx, "", nil); err != nil {
		return MatchStats{}, err
	}
	ids, err := w.queryIDs(ctx, `SELECT id FROM vuln_vulns WHERE updated_at >= ? UNION SELECT vuln_id FROM vuln_rules WHERE updated_at >= ?`, since, since)
	if err != nil {
		return MatchStats{}, err
	}
	return w.matchVulns(ctx, ids)
}

func mergeIDs(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, s := range [][]string{a, b} {
		for _, id := range s {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// candidateVulns returns the vulnerabilities whose rules name one of keys
// or a wildcard.
func (w *Watch) candidateVulns(ctx context.Context, keys map[string]bool) ([]string, error) {
	list := []string{"*"}
	for k := range keys {
		list = append(list, k)
	}
	var out []string
	for chunk := range db.Chunks(list) {
		ids, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_rule_keys WHERE rkey IN (`+db.In(len(chunk))+`)`, db.Args(nil, chunk)...)
		if err != nil {
			return nil, err
		}
		out = mergeIDs(out, ids)
	}
	return out, nil
}

func (w *Watch) queryIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	return db.QueryStrings(ctx, w.DB, query, args...)
}

// matchVulns matches vulnerabilities against the whole index, a chunk per
// transaction, then alerts. The caller holds matchMu.
func (w *Watch) matchVulns(ctx context.Context, ids []string) (MatchStats, error) {
	x, orgs, err := w.index(ctx)
	if err != nil {
		return MatchStats{}, err
	}
	return w.matchVulnsWith(ctx, x, orgs, w.idx.exposure, ids)
}

// matchVulnsWith matches vulnerabilities against x (assets' organisations
// in orgs; exposure facts in exposure, or read from the database when
// nil): rules are read and matched on every CPU a chunk at a time, then
// the chunk's findings are written in one transaction, and the alerts go
// out at the end.
func (w *Watch) matchVulnsWith(ctx context.Context, x *match.Index, orgs map[string]string, exposure map[string]*exposureFacts, ids []string) (MatchStats, error) {
	var st MatchStats
	st.Assets = x.Len()
	ids, err := w.relevant(ctx, x, ids)
	if err != nil {
		return st, err
	}
	var m matcher = x
	if len(ids) > 50 {
		m = x.Pruner()
	}
	cache := csafCache{}
	workers := runtime.GOMAXPROCS(0)
	lap := time.Now()
	split := func(d *float64) {
		now := time.Now()
		*d += now.Sub(lap).Seconds()
		lap = now
	}
	for len(ids) > 0 {
		n := min(len(ids), maxVulnsPerChunk)
		chunk := ids[:n]
		ids = ids[n:]
		rules, facts, err := w.loadRules(ctx, w.DB, chunk)
		if err != nil {
			return st, err
		}
		results := make(map[string]map[string]*hit, len(chunk))
		var csafIDs []string
		for _, id := range chunk {
			results[id] = nil
			if facts[id].withdrawn {
				continue
			}
			for _, r := range rules[id] {
				if r.source == "csaf" {
					csafIDs = append(csafIDs, id)
					break
				}
			}
		}
		// CSAF documents are matched by names read from the database, the
		// rest in memory on every CPU.
		for _, id := range csafIDs {
			h, err := w.matchVuln(ctx, w.DB, m, rules[id], cache)
			if err != nil {
				return st, err
			}
			results[id] = h
		}
		var todo []string
		for _, id := range chunk {
			if results[id] == nil && !facts[id].withdrawn && !slices.Contains(csafIDs, id) {
				todo = append(todo, id)
			}
		}
		// Workers match and sum up each result (its digest) on every CPU.
		// A result becomes a hit per asset only when its findings are to
		// be compared, which an unchanged digest spares.
		digests := make(map[string]string, len(todo))
		matches := make(map[string]*vulnMatch, len(todo))
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan string)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range next {
					vm := matchVulnGroups(m, rules[id])
					d := ""
					if exposure != nil {
						d = vm.digest(facts[id], orgs, exposure)
					}
					mu.Lock()
					matches[id] = vm
					if d != "" {
						digests[id] = d
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range todo {
			next <- id
		}
		close(next)
		wg.Wait()
		if exposure == nil {
			for id, vm := range matches {
				results[id] = vm.hitMap()
			}
		}
		split(&st.Seconds.Match)
		fill := func(vid string) map[string]*hit {
			if vm := matches[vid]; vm != nil {
				return vm.hitMap()
			}
			return nil
		}
		err = w.inWriteTx(ctx, func(tx *db.Tx) error {
			s, err := w.writeFindings(ctx, tx, chunk, results, facts, orgs, exposure, digests, nil, fill)
			st.addUp(s)
			return err
		})
		if err != nil {
			return st, err
		}
		st.Vulns += n
		split(&st.Seconds.Write)
	}
	err = w.Alert(ctx)
	split(&st.Seconds.Alert)
	return st, err
}

// relevant keeps the vulnerabilities that could concern some asset: those
// naming a product an asset has (or a wildcard), those with CSAF rules
// (matched by names) and those with findings already (to update or close
// them).
func (w *Watch) relevant(ctx context.Context, x *match.Index, ids []string) ([]string, error) {
	if len(ids) > 2000 {
		return w.relevantMany(ctx, x, ids)
	}
	keep := make(map[string]bool, 1024)
	for chunk := range db.Chunks(ids) {
		args := db.Args(nil, chunk)
		in := db.In(len(chunk))
		rows, err := w.DB.Query(ctx, `SELECT vuln_id, rkey FROM vuln_rule_keys WHERE vuln_id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, k string
			if err := rows.Scan(&id, &k); err != nil {
				rows.Close()
				return nil, err
			}
			if k == "*" || x.HasKey(k) {
				keep[id] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		more, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_findings WHERE vuln_id IN (`+in+`)
			UNION SELECT vuln_id FROM vuln_rules WHERE source = 'csaf' AND vuln_id IN (`+in+`)`, append(append([]any{}, args...), args...)...)
		if err != nil {
			return nil, err
		}
		for _, id := range more {
			keep[id] = true
		}
	}
	out := make([]string, 0, len(keep))
	for _, id := range ids {
		if keep[id] {
			out = append(out, id)
			delete(keep, id)
		}
	}
	return out, nil
}

// relevantMany is relevant for large sets (a whole feed imported): it
// asks which vulnerabilities name the index's products rather than which
// products each vulnerability names.
func (w *Watch) relevantMany(ctx context.Context, x *match.Index, ids []string) ([]string, error) {
	changed := make(map[string]bool, len(ids))
	for _, id := range ids {
		changed[id] = true
	}
	keep := map[string]bool{}
	mark := func(found []string) {
		for _, id := range found {
			if changed[id] {
				keep[id] = true
			}
		}
	}
	keys := append(x.Keys(), "*")
	for chunk := range db.Chunks(keys) {
		found, err := w.queryIDs(ctx, `SELECT vuln_id FROM vuln_rule_keys WHERE rkey IN (`+db.In(len(chunk))+`)`, db.Args(nil, chunk)...)
		if err != nil {
			return nil, err
		}
		mark(found)
	}
	found, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_findings UNION SELECT vuln_id FROM vuln_rules WHERE source = 'csaf'`)
	if err != nil {
		return nil, err
	}
	mark(found)
	out := make([]string, 0, len(keep))
	for _, id := range ids {
		if keep[id] {
			out = append(out, id)
			delete(keep, id)
		}
	}
	return out, nil
}

// MatchAssets refreshes the identities of the given assets (nil: every
// asset changed in the inventory since it was last matched) and matches
// the given assets, or those whose identity or exposure changed, against the
// vulnerabilities that name their products. It is run every
// RematchInterval by a periodic task, so an asset updated to a fixed
// version has its findings closed within that interval.
func (w *Watch) MatchAssets(ctx context.Context, orgID string, assetIDs []string) (MatchStats, error) {
	w.init()
	w.idx.matchMu.Lock()
	defer w.idx.matchMu.Unlock()
	return w.matchAssets(ctx, orgID, assetIDs)
}

func (w *Watch) matchAssets(ctx context.Context, orgID string, assetIDs []string) (MatchStats, error) {
	var st MatchStats
	changed, err := w.RefreshIdentities(ctx, orgID, assetIDs)
	if err != nil {
		return st, err
	}
	if assetIDs != nil {
		changed = assetIDs
	}
	if len(changed) == 0 {
		return st, nil
	}
	cache := csafCache{}
	for len(changed) > 0 {
		n := min(len(changed), 200)
		chunk := changed[:n]
		changed = changed[n:]
		err := w.DB.InBatchTx(ctx, func(tx *db.Tx) error {
			s, err := w.matchAssetChunk(ctx, tx, chunk, cache)
			st.addUp(s)
			return err
		})
		if err != nil {
			return st, err
		}
		st.Assets += n
	}
	return st, w.Alert(ctx)
}

func (w *Watch) matchAssetChunk(ctx context.Context, tx *db.Tx, assetIDs []string, cache csafCache) (MatchStats, error) {
	args := db.Args(nil, assetIDs)
	facts, err := w.loadAssetFacts(ctx, tx, `asset_id IN (`+db.In(len(assetIDs))+`)`, args...)
	if err != nil {
		return MatchStats{}, err
	}
	rows, err := tx.Query(ctx, `SELECT asset_id, names, vendor_key FROM vuln_asset_identity WHERE asset_id IN (`+db.In(len(assetIDs))+`)`, args...)
	if err != nil {
		return MatchStats{}, err
	}
	targets := map[string]*match.Target{}
	keys := map[string]bool{}
	vendorKeys := map[string]bool{}
	for rows.Next() {
		var id, names, vk string
		if err := rows.Scan(&id, &names, &vk); err != nil {
			rows.Close()
			return MatchStats{}, err
		}
		ns := match.ParseNames(names)
		if facts[id] != nil && facts[id].retire {
			ns = nil
		}
		targets[id] = match.NewTarget(id, ns, w.Reg)
		for _, n := range ns {
			keys[n.Key()] = true
		}
		if vk != "" {
			vendorKeys[vk] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return MatchStats{}, err
	}
	vulnIDs, err := w.candidateVulns(ctx, keys)
	if err != nil {
		return MatchStats{}, err
	}
	csafIDs, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_rules WHERE source = 'csaf'`)
	if err != nil {
		return MatchStats{}, err
	}
	held, err := w.queryIDs(ctx, `SELECT DISTINCT vuln_id FROM vuln_findings WHERE asset_id IN (`+db.In(len(assetIDs))+`)`, args...)
	if err != nil {
		return MatchStats{}, err
	}
	vulnIDs = mergeIDs(mergeIDs(vulnIDs, csafIDs), held)
	rules, vf, err := w.loadRules(ctx, tx, vulnIDs)
	if err != nil {
		return MatchStats{}, err
	}
	results := map[string]map[string]*hit{}
	orgs := map[string]string{}
	for id, f := range facts {
		orgs[id] = f.org
	}
	for _, vid := range vulnIDs {
		res := map[string]*hit{}
		results[vid] = res
		if vf[vid].withdrawn {
			continue
		}
		rs := rules[vid]
		skipProductOnly := versioned(rs)
		for _, r := range rs {
			if r.pending || (skipProductOnly && r.productOnly) {
				continue
			}
			if r.source == "csaf" {
				doc, _, err := w.csafDoc(ctx, tx, cache, r.sourceID)
				if err != nil {
					return MatchStats{}, err
				}
				for id, a := range facts {
					if a.retire || !vendorKeys[w.Aliases.VendorKey(a.vendor)] {
						continue
					}
					if ms := doc.MatchAsset(r.csafIndex, w.Aliases, w.Reg, a.vendor, a.product, a.model, a.ver); len(ms) > 0 {
						h := res[id]
						if h == nil {
							h = &hit{}
							res[id] = h
						}
						addCSAF(h, ms)
					}
				}
				continue
			}
			if r.rules == nil {
				continue
			}
			for id, t := range targets {
				out := match.Evaluate(r.rules, t)
				if !out.Affected {
					continue
				}
				h := res[id]
				if h == nil {
					h = &hit{}
					res[id] = h
				}
				h.add(r.source, out, match.FixedFor(out))
			}
		}
	}
	scope := make(map[string]bool, len(assetIDs))
	for _, id := range assetIDs {
		scope[id] = true
	}
	return w.writeFindings(ctx, tx, vulnIDs, results, vf, orgs, nil, nil, scope, nil)
}

// writeFindings stores the results of matching vulnIDs: new and changed
// findings are written, findings no longer matched are closed (対応済, by
// the system). When scope is nil every asset was matched; otherwise only
// the assets in scope were, and findings of other assets are left alone. A vulnerability without results has them
// from fill (when not nil), asked only when they are to be compared.
func (w *Watch) writeFindings(ctx context.Context, tx *db.Tx, vulnIDs []string, results map[string]map[string]*hit,
	facts map[string]vulnFacts, orgs map[string]string, exposure map[string]*exposureFacts, pre map[string]string, scope map[string]bool,
	fill func(vid string) map[string]*hit) (MatchStats, error) {
	var st MatchStats
	if len(vulnIDs) == 0 {
		return st, nil
	}
	now := w.now()
	// A full matching whose result for a vulnerability has the digest
	// stored the last time is not compared row by row.
	digests := map[string]string{}
	same := map[string]int{}
	if scope == nil && exposure != nil {
		for _, vid := range vulnIDs {
			if d, ok := pre[vid]; ok {
				digests[vid] = d
			} else {
				hs := results[vid]
				if hs == nil && fill != nil {
					hs = fill(vid)
				}
				digests[vid] = findingsDigest(facts[vid], hs, orgs, exposure)
			}
		}
		stored, err := storedDigests(ctx, tx, vulnIDs)
		if err != nil {
			return st, err
		}
		for _, vid := range vulnIDs {
			if d, ok := stored[vid]; ok && d.digest == digests[vid] {
				same[vid] = d.count
			}
		}
	}
	old := map[string]map[string]existing{}
	args := make([]any, 0, len(vulnIDs))
	for _, id := range vulnIDs {
		if _, ok := same[id]; !ok {
			args = append(args, id)
		}
	}
	if len(args) == 0 {
		for _, c := range same {
			st.Findings += c
		}
		return st, nil
	}
	rows, err := tx.Query(ctx, `SELECT vuln_id, id, asset_id, confidence, sources, fixed, priority, rank, active FROM vuln_findings WHERE vuln_id IN (`+db.In(len(args))+`)`, args...)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var vid string
		var e existing
		if err := rows.Scan(&vid, &e.id, &e.asset, &e.confidence, &e.sources, &e.fixed, &e.priority, &e.rank, &e.active); err != nil {
			rows.Close()
			return st, err
		}
		if scope != nil && !scope[e.asset] {
			continue
		}
		if old[vid] == nil {
			old[vid] = map[string]existing{}
		}
		old[vid][e.asset] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	// Exposure facts of matched assets.
	need := map[string]bool{}
	for _, hs := range results {
		for id := range hs {
			need[id] = true
		}
	}
	if exposure == nil {
		if exposure, err = w.exposure(ctx, tx, need); err != nil {
			return st, err
		}
	}
	up := newBatch(tx, "vuln_findings", []string{"id", "org_id", "asset_id", "vuln_id", "active", "closed_reason", "confidence", "reasons",
		"sources", "matched", "fixed", "external", "exposed", "priority", "rank", "state", "first_seen", "changed_at", "alert_pending"},
		findingUpsert, 150)
	type closing struct{ id, org, reason string }
	var closes []closing
	touched := map[string]string{}
	dirty := map[string]bool{}
	for _, vid := range vulnIDs {
		if c, ok := same[vid]; ok {
			st.Findings += c
			continue
		}
		f := facts[vid]
		hs := results[vid]
		if hs == nil && fill != nil {
			hs = fill(vid)
		}
		for assetID, h := range hs {
			org := orgs[assetID]
			ex := exposure[assetID]
			if org == "" || ex == nil {
				continue
			}
			conf := string(match.ConfidenceProduct)
			if h.exact {
				conf = string(match.ConfidenceExact)
				h.reasons = nil
			}
			p, rank := Priority(PriorityInput{KEV: f.kev, Ransomware: f.ransomware, CVSS: f.cvss, EPSS: f.epss, External: ex.external,
				VPN: ex.vpn, Exposed: ex.exposed, Exact: h.exact})
			slices.Sort(h.sources)
			sources, fixed := strings.Join(h.sources, " "), strings.Join(h.fixed, " ")
			st.Findings++
			e, had := old[vid][assetID]
			if had && e.active && e.confidence == conf && e.sources == sources && e.fixed == fixed && e.priority == p {
				continue
			}
			if had && e.active {
				st.Changed++
			} else {
				st.New++
			}
			id := db.NewID()
			if had {
				id = e.id
			}
			touched[assetID] = org
			dirty[vid] = true
			// A finding that only became less urgent changes quietly.
			alert := !(had && e.active && e.confidence == conf && e.sources == sources && e.fixed == fixed && p > e.priority)
			if err := up.add(ctx, org+"\x00"+assetID+"\x00"+vid, id, org, assetID, vid, true, "", conf, strings.Join(h.reasons, " "),
				sources, h.matched, fixed, ex.external, ex.exposed, p, rank, string(StateOpen), now, now, alert); err != nil {
				return st, err
			}
		}
		for assetID, e := range old[vid] {
			if !e.active {
				continue
			}
			if _, still := hs[assetID]; still {
				continue
			}
			reason := "no_longer_affected"
			if f.withdrawn {
				reason = "withdrawn"
			}
			closes = append(closes, closing{id: e.id, org: orgs[assetID], reason: reason})
			touched[assetID] = orgs[assetID]
			dirty[vid] = true
		}
	}
	if err := up.flush(ctx); err != nil {
		return st, err
	}
	byOrg := map[string][]string{}
	for _, c := range closes {
		byOrg[c.org] = append(byOrg[c.org], c.id)
	}
	if err := w.autoCloseAudit(ctx, tx, byOrg); err != nil {
		return st, err
	}
	for len(closes) > 0 {
		n := min(len(closes), 300)
		for _, reason := range []string{"no_longer_affected", "withdrawn"} {
			a := []any{reason, now, now}
			for _, c := range closes[:n] {
				if c.reason == reason {
					a = append(a, c.id)
				}
			}
			if len(a) == 3 {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE vuln_findings SET active = FALSE, closed_reason = ?, changed_at = ?, alert_pending = FALSE,
				state = CASE WHEN state IN ('open','in_progress') THEN 'resolved' ELSE state END,
				state_reason = CASE WHEN state IN ('open','in_progress') THEN 'auto' ELSE state_reason END,
				state_at = CASE WHEN state IN ('open','in_progress') THEN ? ELSE state_at END
				WHERE id IN (`+db.In(len(a)-3)+`)`, a...); err != nil {
				return st, err
			}
		}
		st.Closed += n
		closes = closes[n:]
	}
	if err := w.syncVulnerableFlags(ctx, tx, touched); err != nil {
		return st, err
	}
	if scope == nil && exposure != nil {
		return st, storeDigests(ctx, tx, digests, same, now)
	}
	var changed []string
	for vid := range dirty {
		changed = append(changed, vid)
	}
	return st, forgetDigests(ctx, tx, changed)
}

// findingUpsert ends the insert of a matching run's findings: a finding
// found again is active again, and one closed automatically is open again.
const findingUpsert = `ON CONFLICT (org_id, asset_id, vuln_id) DO UPDATE SET active = TRUE, closed_reason = '', confidence = excluded.confidence,
	reasons = excluded.reasons, sources = excluded.sources, matched = excluded.matched, fixed = excluded.fixed,
	external = excluded.external, exposed = excluded.exposed, priority = excluded.priority, rank = excluded.rank,
	changed_at = excluded.changed_at, alert_pending = vuln_findings.alert_pending OR excluded.alert_pending,
	state = CASE WHEN NOT vuln_findings.active AND vuln_findings.state_reason = 'auto' THEN 'open' ELSE vuln_findings.state END,
	state_reason = CASE WHEN NOT vuln_findings.active AND vuln_findings.state_reason = 'auto' THEN '' ELSE vuln_findings.state_reason END`

// findingsDigest sums up what writeFindings stores for one vulnerability
// (per affected asset: confidence, sources, fixed versions, priority), so
// that an unchanged result is recognised without reading its findings.
// Each row is hashed from a hash of the asset id and a hash of the rest
// (FNV-1a, finished by two different mixers), and the row hashes are
// added, so no sorting is needed and assets with the same rest share its
// hash; the count of rows leads the digest.
func findingsDigest(f vulnFacts, hs map[string]*hit, orgs map[string]string, exposure map[string]*exposureFacts) string {
	var d digestSum
	for id, h := range hs {
		ex := exposure[id]
		if orgs[id] == "" || ex == nil {
			continue
		}
		slices.Sort(h.sources)
		d.add(idHash(id), restHash(f, ex, h))
	}
	return d.String(f)
}

type digestSum struct {
	n      int
	s1, s2 uint64
}

func (d *digestSum) add(id, rest uint64) {
	d.n++
	d.s1 += mix64(id ^ rest)
	d.s2 += mix64b(id + rest*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019)
}

func (d *digestSum) String(f vulnFacts) string {
	return fmt.Sprintf("%d:%t:%016x%016x", d.n, f.withdrawn, d.s1, d.s2)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func idHash(id string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * fnvPrime
	}
	return h
}

// restHash hashes what a finding row holds besides its asset: priority,
// exactness, sources (sorted) and fixed versions.
func restHash(f vulnFacts, ex *exposureFacts, h *hit) uint64 {
	p, _ := Priority(PriorityInput{KEV: f.kev, Ransomware: f.ransomware, CVSS: f.cvss, EPSS: f.epss, External: ex.external,
		VPN: ex.vpn, Exposed: ex.exposed, Exact: h.exact})
	x := uint64(fnvOffset)
	b := func(c byte) { x = (x ^ uint64(c)) * fnvPrime }
	str := func(s string) {
		for i := 0; i < len(s); i++ {
			b(s[i])
		}
	}
	b(byte('0' + p))
	if h.exact {
		b('e')
	}
	for _, s := range h.sources {
		b(0)
		str(s)
	}
	b(1)
	for _, s := range h.fixed {
		b(0)
		str(s)
	}
	return x
}

// mix64 and mix64b are two 64-bit finalisers (MurmurHash3's and
// SplitMix64's), so the two sums do not collide together.
func mix64(x uint64) uint64 {
	return xorShiftMul(x, 33, 0xff51afd7ed558ccd, 33, 0xc4ceb9fe1a85ec53, 33)
}

func mix64b(x uint64) uint64 {
	return xorShiftMul(x, 30, 0xbf58476d1ce4e5b9, 27, 0x94d049bb133111eb, 31)
}

// xorShiftMul is the finaliser both use: shift-xor, multiply,
// shift-xor, multiply, shift-xor, with their own shifts and multipliers.
func xorShiftMul(x uint64, s1 uint, m1 uint64, s2 uint, m2 uint64, s3 uint) uint64 {
	x ^= x >> s1
	x *= m1
	x ^= x >> s2
	x *= m2
	x ^= x >> s3
	return x
}

type storedDigest struct {
	digest string
	count  int
}

func storedDigests(ctx context.Context, q db.Querier, ids []string) (map[string]storedDigest, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.Query(ctx, `SELECT vuln_id, digest FROM vuln_match_state WHERE vuln_id IN (`+db.In(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]storedDigest{}
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			return nil, err
		}
		n, _, _ := strings.Cut(d, ":")
		c, _ := strconv.Atoi(n)
		out[id] = storedDigest{digest: d, count: c}
	}
	return out, rows.Err()
}

func storeDigests(ctx context.Context, q db.Querier, digests map[string]string, same map[string]int, now time.Time) error {
	b := newBatch(q, "vuln_match_state", []string{"vuln_id", "digest", "updated_at"},
		`ON CONFLICT (vuln_id) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`, 300)
	for vid, d := range digests {
		if _, ok := same[vid]; ok {
			continue
		}
		if err := b.add(ctx, vid, vid, d, now); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

// forgetDigests removes the stored digests of vulnerabilities whose
// findings changed outside a full matching.
func forgetDigests(ctx context.Context, q db.Querier, ids []string) error {
	for chunk := range db.Chunks(ids) {
		if _, err := q.Exec(ctx, `DELETE FROM vuln_match_state WHERE vuln_id IN (`+db.In(len(chunk))+`)`, db.Args(nil, chunk)...); err != nil {
			return err
		}
	}
	return nil
}

type exposureFacts struct{ external, vpn, exposed bool }

func (w *Watch) exposure(ctx context.Context, q db.Querier, ids map[string]bool) (map[string]*exposureFacts, error) {
	out := make(map[string]*exposureFacts, len(ids))
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	for chunk := range db.Chunks(list) {
		rows, err := q.Query(ctx, `SELECT asset_id, external, vpn, exposed FROM vuln_asset_identity WHERE asset_id IN (`+db.In(len(chunk))+`)`, db.Args(nil, chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			e := &exposureFacts{}
			if err := rows.Scan(&id, &e.external, &e.vpn, &e.exposed); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = e
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// syncVulnerableFlags sets the inventory's vulnerable flag of the given
// assets (id → organisation): true while the asset has an active finding
// that is open or in progress. The flag drives the inventory's "device
// terminating an external connection is vulnerable" warning.
func (w *Watch) syncVulnerableFlags(ctx context.Context, tx db.Querier, assets map[string]string) error {
	ids := make([]string, 0, len(assets))
	for id := range assets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	type flag struct {
		org, asset string
		want       bool
	}
	var set []flag
	for chunk := range db.Chunks(ids) {
		rows, err := tx.Query(ctx, `SELECT a.org_id, a.id, a.vulnerable,
			EXISTS (SELECT 1 FROM vuln_findings g WHERE g.org_id = a.org_id AND g.asset_id = a.id AND g.active AND g.state IN ('open','in_progress'))
			FROM inv_assets a WHERE a.id IN (`+db.In(len(chunk))+`)`, db.Args(nil, chunk)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var org, asset string
			var have, want bool
			if err := rows.Scan(&org, &asset, &have, &want); err != nil {
				rows.Close()
				return err
			}
			if have != want {
				set = append(set, flag{org, asset, want})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, want := range []bool{true, false} {
		var ids []string
		for _, f := range set {
			if f.want == want {
				ids = append(ids, f.asset)
			}
		}
		if err := inventory.SetAssetsVulnerable(ctx, tx, ids, want); err != nil {
			return err
		}
	}
	return nil
}

// syncAssetFlag recomputes the vulnerable flag of one asset.
func syncAssetFlag(ctx context.Context, q db.Querier, orgID, assetID string) error {
	var want bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vuln_findings WHERE org_id = ? AND asset_id = ? AND active AND state IN ('open','in_progress'))`,
		orgID, assetID).Scan(&want); err != nil {
		return err
	}
	return inventory.SetAssetVulnerable(ctx, q, orgID, assetID, want)
}

// Reprioritise recomputes the priority of active findings (of one
// organisation, or all when orgID is "") from the current KEV, EPSS and
// CVSS data, as after an EPSS import. A finding that needs work and
// becomes more urgent than it was last alerted at is marked for an alert,
// which is then written (the alert says why, see Alert); one that becomes
// less urgent changes quietly.
func (w *Watch) Reprioritise(ctx context.Context, orgID string) error {
	w.init()
	where, args := "f.active", []any{}
	if orgID != "" {
		where += " AND f.org_id = ?"
		args = append(args, orgID)
	}
	rows, err := w.DB.Query(ctx, `SELECT f.id, f.priority, f.alerted_priority, f.rank, f.confidence, f.state, f.external, f.exposed, COALESCE(i.vpn, FALSE), v.cvss_score,
		k.cve IS NOT NULL, COALESCE(k.ransomware, FALSE), COALESCE(e.score, 0)
		FROM vuln_findings f JOIN vuln_vulns v ON v.id = f.vuln_id LEFT JOIN vuln_kev k ON k.cve = f.vuln_id
		LEFT JOIN vuln_epss e ON e.cve = f.vuln_id LEFT JOIN vuln_asset_identity i ON i.asset_id = f.asset_id WHERE `+where, args...)
	if err != nil {
		return err
	}
	type upd struct {
		id      string
		p, rank int
		raised  bool
	}
	var ups []upd
	raised := false
	for rows.Next() {
		var id, conf string
		var state State
		var p, told, rank int
		var in PriorityInput
		if err := rows.Scan(&id, &p, &told, &rank, &conf, &state, &in.External, &in.Exposed, &in.VPN, &in.CVSS, &in.KEV, &in.Ransomware, &in.EPSS); err != nil {
			rows.Close()
			return err
		}
		in.Exact = conf == string(match.ConfidenceExact)
		np, nr := Priority(in)
		if np != p || nr != rank {
			u := upd{id, np, nr, np < p && (told == 0 || np < told) && (state == StateOpen || state == StateInProgress)}
			raised = raised || u.raised
			ups = append(ups, u)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := w.now()
	for chunk := range db.Chunks(ups) {
		err := w.DB.InBatchTx(ctx, func(tx *db.Tx) error {
			for _, u := range chunk {
				var err error
				if u.raised {
					_, err = tx.Exec(ctx, `UPDATE vuln_findings SET priority = ?, rank = ?, alert_pending = TRUE, changed_at = ? WHERE id = ?`, u.p, u.rank, now, u.id)
				} else {
					_, err = tx.Exec(ctx, `UPDATE vuln_findings SET priority = ?, rank = ? WHERE id = ?`, u.p, u.rank, u.id)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if raised {
		return w.Alert(ctx)
	}
	return nil
}

// Finding is one (asset, vulnerability) pair of an organisation.
type Finding struct {
	ID           string    `json:"id"`
	AssetID      string    `json:"asset_id"`
	AssetName    string    `json:"asset_name"`
	AssetKind    string    `json:"asset_kind"`
	Location     string    `json:"location,omitempty"`
	Vendor       string    `json:"vendor,omitempty"`
	Product      string    `json:"product,omitempty"`
	Model        string    `json:"model,omitempty"`
	Version      string    `json:"version,omitempty"`
	Maintainer   string    `json:"maintainer,omitempty"`
	VulnID       string    `json:"vuln_id"`
	Title        string    `json:"title,omitempty"`
	Active       bool      `json:"active"`
	ClosedReason string    `json:"closed_reason,omitempty"`
	Confidence   string    `json:"confidence"`
	Reasons      []string  `json:"reasons,omitempty"`
	Sources      []string  `json:"sources"`
	Matched      string    `json:"matched_identity,omitempty"`
	Fixed        []string  `json:"fixed_versions,omitempty"`
	External     bool      `json:"external_connection"`
	Exposed      bool      `json:"internet_exposed"`
	Priority     int       `json:"priority"`
	State        State     `json:"state"`
	StateReason  string    `json:"state_reason,omitempty"`
	ReviewOn     string    `json:"review_on,omitempty"`
	StateAt      time.Time `json:"state_at,omitzero"`
	FirstSeen    time.Time `json:"first_seen"`
	ChangedAt    time.Time `json:"changed_at"`
	CVSS         float64   `json:"cvss"`
	Severity     string    `json:"severity,omitempty"`
	KEV          bool      `json:"kev"`
	Ransomware   bool      `json:"ransomware"`
	EPSS         float64   `json:"epss"`
	Refs         []string  `json:"refs,omitempty"`
}

// Exact reports whether the finding's version was confirmed.
func (f Finding) Exact() bool { return f.Confidence == string(match.ConfidenceExact) }

// Open reports whether the finding still needs work.
func (f Finding) Open() bool {
	return f.Active && (f.State == StateOpen || f.State == StateInProgress)
}

const findingSelect = `SELECT f.id, f.asset_id, a.name, a.kind, a.location, a.vendor, a.product, a.model, a.version, a.maintainer,
	f.vuln_id, CASE WHEN v.title_ja <> '' THEN v.title_ja WHEN v.title <> '' THEN v.title ELSE SUBSTR(COALESCE(v.description, ''), 1, 160) END,
	f.active, f.closed_reason, f.confidence, f.reasons, f.sources, f.matched, f.fixed, f.external, f.exposed, f.priority, f.state,
	f.state_reason, f.review_on, f.state_at, f.first_seen, f.changed_at, COALESCE(v.cvss_score, 0), COALESCE(v.cvss_severity, ''),
	k.cve IS NOT NULL, COALESCE(k.ransomware, FALSE), COALESCE(e.score, 0)
	FROM vuln_findings f JOIN inv_assets a ON a.id = f.asset_id AND a.org_id = f.org_id
	LEFT JOIN vuln_vulns v ON v.id = f.vuln_id LEFT JOIN vuln_kev k ON k.cve = f.vuln_id LEFT JOIN vuln_epss e ON e.cve = f.vuln_id`

func scanFinding(s scanner) (Finding, error) {
	var f Finding
	var reasons, sources, fixed string
	var stateAt *time.Time
	err := s.Scan(&f.ID, &f.AssetID, &f.AssetName, &f.AssetKind, &f.Location, &f.Vendor, &f.Product, &f.Model, &f.Version, &f.Maintainer,
		&f.VulnID, &f.Title, &f.Active, &f.ClosedReason, &f.Confidence, &reasons, &sources, &f.Matched, &fixed, &f.External, &f.Exposed,
		&f.Priority, &f.State, &f.StateReason, &f.ReviewOn, &stateAt, &f.FirstSeen, &f.ChangedAt, &f.CVSS, &f.Severity, &f.KEV,
		&f.Ransomware, &f.EPSS)
	f.Reasons, f.Sources, f.Fixed = strings.Fields(reasons), strings.Fields(sources), strings.Fields(fixed)
	if stateAt != nil {
		f.StateAt = *stateAt
	}
	return f, err
}

// FindingFilter selects an organisation's findings.
type FindingFilter struct {
	AssetID string
	VulnID  string
	// All includes closed findings and those resolved, accepted or not
	// applicable; by default only findings that need work are listed.
	All      bool
	Priority int
	// Limit and Offset cut ListFindings' result; PageFindings and
	// EachFinding ignore them.
	Limit  int
	Offset int
}

// ListFindings returns the organisation's findings, most urgent first:
// active findings, then by priority, rank and id (the order PageFindings
// pages through).
func ListFindings(ctx context.Context, q db.Querier, orgID string, f FindingFilter) ([]Finding, error) {
	where, args := f.where(orgID)
	limit := ""
	if f.Limit > 0 {
		limit = " LIMIT ? OFFSET ?"
		args = append(args, f.Limit, max(f.Offset, 0))
	}
	return db.QueryAll(ctx, q, scanFinding, findingSelect+` WHERE `+where+findingOrder+limit, args...)
}

// GetFinding returns one finding of the organisation.
func GetFinding(ctx context.Context, q db.Querier, orgID, id string) (Finding, error) {
	f, err := scanFinding(q.QueryRow(ctx, findingSelect+` WHERE f.org_id = ? AND f.id = ?`, orgID, id))
	if err := db.ScanErr(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return f, apperr.New(apperr.NotFound, "error.not_found")
		}
		return f, err
	}
	return f, nil
}

// Summary counts an organisation's findings that need work, by priority.
type Summary struct {
	ByPriority [5]int `json:"by_priority"`
	Open       int    `json:"open"`
	InProgress int    `json:"in_progress"`
	ToConfirm  int    `json:"to_confirm"`
	Assets     int    `json:"assets"`
}

// Summarise counts the organisation's open findings, from the counts the
// database keeps with the findings (vuln_org_counts, vuln_asset_counts):
// a few rows, however many findings there are.
func Summarise(ctx context.Context, q db.Querier, orgID string) (Summary, error) {
	var s Summary
	rows, err := q.Query(ctx, `SELECT priority, state, confidence, SUM(n) FROM vuln_org_counts WHERE org_id = ? AND active AND state IN ('open','in_progress')
		GROUP BY priority, state, confidence`, orgID)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var p, n int
		var state, conf string
		if err := rows.Scan(&p, &state, &conf, &n); err != nil {
			return s, err
		}
		if p >= 1 && p <= 4 {
			s.ByPriority[p] += n
		}
		if state == string(StateOpen) {
			s.Open += n
		} else {
			s.InProgress += n
		}
		if conf == string(match.ConfidenceProduct) {
			s.ToConfirm += n
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	return s, q.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_asset_counts WHERE org_id = ? AND n > 0`, orgID).Scan(&s.Assets)
}

// Remediation is a person's change of a finding's state.
type Remediation struct {
	State State `json:"state"`
	// Reason is required for accepted (リスク受容) and not_applicable (該当なし).
	Reason string `json:"reason,omitempty"`
	// ReviewOn (YYYY-MM-DD) is required for accepted: when to look again.
	ReviewOn string `json:"review_on,omitempty"`
}

// Validate checks a remediation.
func (r *Remediation) Validate(today string) error {
	r.Reason = strings.TrimSpace(r.Reason)
	r.ReviewOn = strings.TrimSpace(r.ReviewOn)
	if !r.State.Valid() {
		return apperr.Field("state", "vuln.state.invalid")
	}
	if len([]rune(r.Reason)) > 2000 {
		return apperr.Field("reason", "vuln.state.reason_long", 2000)
	}
	switch r.State {
	case StateAccepted:
		if r.Reason == "" {
			return apperr.Field("reason", "vuln.state.reason_required")
		}
		if _, err := time.Parse(time.DateOnly, r.ReviewOn); err != nil {
			return apperr.Field("review_on", "vuln.state.review_required")
		}
		if r.ReviewOn <= today {
			return apperr.Field("review_on", "vuln.state.review_future")
		}
	case StateNotApplicable:
		if r.Reason == "" {
			return apperr.Field("reason", "vuln.state.reason_required")
		}
		r.ReviewOn = ""
	default:
		r.ReviewOn = ""
	}
	return nil
}

// SetRemediation changes a finding's state in q and returns the finding
// before and after; the caller writes the audit entry (RemediationAudit)
// in the same transaction.
func SetRemediation(ctx context.Context, q db.Querier, orgID, actorID, findingID string, r Remediation, now time.Time) (before, after Finding, err error) {
	if err := r.Validate(now.In(time.FixedZone("JST", 9*3600)).Format(time.DateOnly)); err != nil {
		return before, after, err
	}
	before, err = GetFinding(ctx, q, orgID, findingID)
	if err != nil {
		return before, after, err
	}
	if _, err := q.Exec(ctx, `UPDATE vuln_findings SET state = ?, state_reason = ?, review_on = ?, state_by = ?, state_at = ? WHERE org_id = ? AND id = ?`,
		string(r.State), r.Reason, r.ReviewOn, actorID, now.UTC(), orgID, findingID); err != nil {
		return before, after, err
	}
	if err := syncAssetFlag(ctx, q, orgID, before.AssetID); err != nil {
		return before, after, err
	}
	after, err = GetFinding(ctx, q, orgID, findingID)
	return before, after, err
}

// RemediationAudit is the audit entry of a remediation change.
func RemediationAudit(before, after Finding) audit.Entry {
	return audit.Entry{Action: "vuln.finding.state", ObjectType: "vuln_finding", ObjectID: after.ID, Details: map[string]any{
		"asset": after.AssetName, "vulnerability": after.VulnID, "from": string(before.State), "to": string(after.State),
		"reason": after.StateReason, "review_on": after.ReviewOn}}
}

// FindingHistory returns the audit entries of a finding's state changes,
// newest first.
func FindingHistory(ctx context.Context, l *audit.Log, orgID, findingID string) ([]audit.Entry, error) {
	if l == nil {
		return nil, nil
	}
	es, err := l.List(ctx, orgID, audit.Filter{ObjectType: "vuln_finding", ObjectID: findingID, Limit: 100})
	if err != nil {
		return nil, fmt.Errorf("vuln: finding history: %w", err)
	}
	return es, nil
}
