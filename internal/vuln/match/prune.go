package match

import (
	"slices"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Pruner is a read-only view of an Index for matching many
// vulnerabilities in a row (the full re-match): per "vendor:product" key
// it holds the distinct identities sorted by version, so that a criterion
// with version bounds only looks at the identities inside its range (found
// by binary search) and at those whose version is unknown, unparseable or
// a family. Only the groups holding such an identity are evaluated, with
// Evaluate's full semantics, so results equal Index.Match. Rules that
// negate nodes or name wildcard products use Index.Match. A Pruner does
// not see assets put into the index after it was built.
type Pruner struct {
	x     *Index
	keys  map[string]*prunedKey
	slots int
}

type prunedKey struct {
	// sorted holds identities with a parsed, single version, ascending.
	sorted []*Identity
	// other holds identities without a comparable version.
	other  []*Identity
	groups map[*Identity][]*group
}

// Pruner builds the pruned view of the index as it is now.
func (x *Index) Pruner() *Pruner {
	x.mu.RLock()
	defer x.mu.RUnlock()
	p := &Pruner{x: x, keys: map[string]*prunedKey{}, slots: x.slots}
	for _, g := range x.groups {
		for i := range g.target.Identities {
			id := g.target.Identities[i].origin
			if id == nil {
				continue
			}
			pk := p.keys[id.key]
			if pk == nil {
				pk = &prunedKey{groups: map[*Identity][]*group{}}
				p.keys[id.key] = pk
			}
			if _, seen := pk.groups[id]; !seen {
				if id.ver == "" || id.perr != nil || id.pv.Partial {
					pk.other = append(pk.other, id)
				} else {
					pk.sorted = append(pk.sorted, id)
				}
			}
			pk.groups[id] = append(pk.groups[id], g)
		}
	}
	for _, pk := range p.keys {
		slices.SortFunc(pk.sorted, func(a, b *Identity) int { return a.pv.Cmp(b.pv) })
	}
	return p
}

// prunable reports whether the rules can be matched through the pruned
// view: prepared, no negation, every vulnerable criterion on a plain key.
func prunable(r *Rules) bool {
	if !r.prepared || len(r.anyKey) > 0 {
		return false
	}
	for _, c := range r.Configs {
		if c.Negate {
			return false
		}
		for _, n := range c.Nodes {
			if n.Negate {
				return false
			}
		}
	}
	return true
}

// Match evaluates rules like Index.Match, looking only at the groups that
// hold an identity a vulnerable criterion can match.
func (p *Pruner) Match(r *Rules) []GroupResult {
	if r == nil || r.Pending {
		return nil
	}
	if !prunable(r) {
		return p.x.Match(r)
	}
	p.x.mu.RLock()
	defer p.x.mu.RUnlock()
	seen := make(map[*group]bool)
	var cand []*group
	add := func(pk *prunedKey, ids []*Identity) {
		for _, id := range ids {
			for _, g := range pk.groups[id] {
				if !seen[g] {
					seen[g] = true
					cand = append(cand, g)
				}
			}
		}
	}
	for cr := range r.Vulnerable() {
		pk := p.keys[cr.key]
		if pk == nil {
			continue
		}
		add(pk, pk.other)
		ws, ok := cr.versionWindows(pk.sorted)
		if !ok {
			ws = [][2]int{{0, len(pk.sorted)}}
		}
		for _, w := range ws {
			add(pk, pk.sorted[w[0]:w[1]])
		}
	}
	return matchGroupsParallel(r, cand)
}

// versionWindows returns the parts [lo, hi) of identities (sorted by
// version, all parsed with the criterion's scheme) that the criterion can
// match: the range its bounds admit, or the identities equal to its
// specific version (and, for a release family, the family's builds; for a
// version with an update, the identities of the bare version). ok is false
// when the criterion cannot be narrowed that way (no version data, a
// wildcard version, bounds or versions the scheme cannot read), and every
// identity must then be looked at.
func (c *Criterion) versionWindows(ids []*Identity) (ws [][2]int, ok bool) {
	if c.ProductOnly || boundsErr(c.bounds) || c.scheme == nil {
		return nil, false
	}
	if len(ids) > 0 && (ids[0].sch == nil || ids[0].sch.Name() != c.scheme.Name()) {
		return nil, false
	}
	between := func(lo, hi version.Version) [2]int {
		a, _ := slices.BinarySearchFunc(ids, lo, func(id *Identity, v version.Version) int {
			if id.pv.Cmp(v) < 0 {
				return -1
			}
			return 1
		})
		b, _ := slices.BinarySearchFunc(ids, hi, func(id *Identity, v version.Version) int {
			if id.pv.Cmp(v) > 0 {
				return 1
			}
			return -1
		})
		return [2]int{a, max(a, b)}
	}
	cv := c.Name[cpe.Version]
	switch {
	case cv.Kind == cpe.Any && c.HasRange():
		lo, _ := slices.BinarySearchFunc(ids, 0, func(id *Identity, _ int) int {
			if below(id.pv, c.bounds) {
				return -1
			}
			return 1
		})
		hi, _ := slices.BinarySearchFunc(ids, 0, func(id *Identity, _ int) int {
			if above(id.pv, c.bounds) {
				return 1
			}
			return -1
		})
		return [][2]int{{lo, max(lo, hi)}}, true
	case cv.Kind == cpe.Str && !cv.HasWildcards() && c.want != "" && c.cerr == nil && !c.HasRange():
		ws = append(ws, between(c.cpv, c.cpv))
		if c.cpv.Partial {
			ws = append(ws, between(c.cpv.Low(), c.cpv.High()))
		}
		if c.updateNamed {
			if c.berr != nil {
				return nil, false
			}
			ws = append(ws, between(c.base, c.base))
		}
		return ws, true
	}
	return nil, false
}

// Keys returns the "vendor:product" keys of the identities held.
func (x *Index) Keys() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]string, 0, len(x.byKey))
	for k, gs := range x.byKey {
		if len(gs) > 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
