package match

import (
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Index holds assets for matching. Assets with the same set of identities
// (the same model at the same firmware version, say) share one group that
// is evaluated once; groups are reachable by the "vendor:product" of each
// of their identities, so matching one vulnerability only looks at groups
// that could be affected. Identities are interned, so a million assets
// cost little more than their ids. It is safe for concurrent use.
type Index struct {
	mu     sync.RWMutex
	reg    *version.Registry
	idents map[string]*Identity
	groups map[string]*group
	byKey  map[string][]*group
	assets map[string]assetRef
	// byText finds the group of identities stored as text (PutText).
	byText map[string]*group
	// slots numbers groups densely for per-match bitsets; free holds the
	// numbers of deleted groups for reuse.
	slots int
	free  []int
}

type group struct {
	sig     string
	text    string
	gone    bool
	slot    int
	target  *Target
	members []string
	// info holds a byte the caller gave for each member (PutTextInfo).
	info []uint8
}

type assetRef struct {
	g *group
	i int
}

// NewIndex returns an empty index that parses versions with reg.
func NewIndex(reg *version.Registry) *Index { return NewIndexSize(reg, 0) }

// NewIndexSize returns an empty index with room for about n assets.
func NewIndexSize(reg *version.Registry, n int) *Index {
	return &Index{reg: reg, idents: map[string]*Identity{}, groups: map[string]*group{},
		byKey: map[string][]*group{}, assets: make(map[string]assetRef, n), byText: map[string]*group{}}
}

// PutText is Put for identities as stored: CPE names one per line. Assets
// with the same text share the parsing and the group lookup, so loading a
// million assets costs little more than a map lookup each.
func (x *Index) PutText(id, text string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.putText(id, text, nil, 0)
}

// PutTextBytes is PutText for text in a buffer the caller reuses; it is
// copied only when no asset held has the same text.
func (x *Index) PutTextBytes(id string, text []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.putText(id, "", text, 0)
}

// PutTextInfo is PutTextBytes with a byte of the caller's that results
// carry along with the asset (see GroupResult.Info).
func (x *Index) PutTextInfo(id string, text []byte, info uint8) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.putText(id, "", text, info)
}

func (x *Index) putText(id, text string, b []byte, info uint8) {
	x.delete(id)
	g := x.byText[text]
	if b != nil {
		g = x.byText[string(b)]
	}
	if g != nil && !g.gone {
		x.assets[id] = assetRef{g: g, i: len(g.members)}
		g.members = append(g.members, id)
		g.info = append(g.info, info)
		return
	}
	if b != nil {
		text = string(b)
	}
	x.put(id, ParseNames(text))
	g = x.assets[id].g
	g.info[len(g.info)-1] = info
	g.text = text
	x.byText[text] = g
}

// Put adds an asset with its identities, or replaces the identities of an
// asset already held. Identities whose vendor or product is not a plain
// string are ignored.
func (x *Index) Put(id string, names []cpe.Name) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.delete(id)
	x.put(id, names)
}

func (x *Index) put(id string, names []cpe.Name) {
	keys := make([]string, 0, len(names))
	byFS := make(map[string]cpe.Name, len(names))
	for _, n := range names {
		if n[cpe.Vendor].Kind != cpe.Str || n[cpe.Product].Kind != cpe.Str || n[cpe.Vendor].HasWildcards() || n[cpe.Product].HasWildcards() {
			continue
		}
		fs := n.FormatFS()
		byFS[fs] = n
		keys = append(keys, fs)
	}
	sort.Strings(keys)
	keys = uniqStrings(keys)
	sig := strings.Join(keys, "\n")
	g := x.groups[sig]
	if g == nil {
		g = &group{sig: sig, target: &Target{}}
		if n := len(x.free); n > 0 {
			g.slot, x.free = x.free[n-1], x.free[:n-1]
		} else {
			g.slot = x.slots
			x.slots++
		}
		for _, k := range keys {
			idn := x.idents[k]
			if idn == nil {
				t := NewTarget("", []cpe.Name{byFS[k]}, x.reg)
				idn = &t.Identities[0]
				x.idents[k] = idn
			}
			c := *idn
			c.origin = idn
			g.target.add(c)
		}
		x.groups[sig] = g
		seen := map[string]bool{}
		for i := range g.target.Identities {
			k := g.target.Identities[i].key
			if !seen[k] {
				seen[k] = true
				x.byKey[k] = append(x.byKey[k], g)
			}
		}
	}
	x.assets[id] = assetRef{g: g, i: len(g.members)}
	g.members = append(g.members, id)
	g.info = append(g.info, 0)
}

func uniqStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Delete removes an asset; it does nothing if the asset is not held.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.delete(id)
}

func (x *Index) delete(id string) {
	ref, ok := x.assets[id]
	if !ok {
		return
	}
	delete(x.assets, id)
	g := ref.g
	last := len(g.members) - 1
	if ref.i != last {
		moved := g.members[last]
		g.members[ref.i] = moved
		g.info[ref.i] = g.info[last]
		x.assets[moved] = assetRef{g: g, i: ref.i}
	}
	g.members = g.members[:last]
	g.info = g.info[:last]
	if len(g.members) > 0 {
		return
	}
	delete(x.groups, g.sig)
	g.gone = true
	if x.byText[g.text] == g {
		delete(x.byText, g.text)
	}
	x.free = append(x.free, g.slot)
	for i := range g.target.Identities {
		k := g.target.Identities[i].key
		list := x.byKey[k]
		for j, o := range list {
			if o == g {
				list[j] = list[len(list)-1]
				list = list[:len(list)-1]
				break
			}
		}
		if len(list) == 0 {
			delete(x.byKey, k)
		} else {
			x.byKey[k] = list
		}
	}
}

// Len returns the number of assets held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.assets)
}

// Groups returns the number of distinct identity sets held.
func (x *Index) Groups() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.groups)
}

// GroupResult is the result shared by the assets of one or more identity
// sets.
// Results of different groups may share their Hits slices; callers must
// not modify them.
type GroupResult struct {
	AssetIDs []string
	// Info holds, for each asset, the byte given with PutTextInfo (0 for
	// assets put otherwise).
	Info []uint8
	Result
}

// Match evaluates rules against the candidate assets and returns the
// affected ones (exact and 「要確認」 alike), grouped by identity set, in no
// particular order. The AssetIDs slices are copies the caller may keep.
func (x *Index) Match(r *Rules) []GroupResult {
	if r == nil || r.Pending {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	keys, wildcard := r.Keys()
	var cand []*group
	switch {
	case wildcard:
		cand = make([]*group, 0, len(x.groups))
		for _, g := range x.groups {
			cand = append(cand, g)
		}
	case len(keys) == 1:
		cand = x.byKey[keys[0]]
	default:
		n := 0
		for _, k := range keys {
			n += len(x.byKey[k])
		}
		cand = make([]*group, 0, n)
		seen := make([]uint64, (x.slots+63)/64)
		for _, k := range keys {
			for _, g := range x.byKey[k] {
				w, bit := g.slot/64, uint64(1)<<(g.slot%64)
				if seen[w]&bit == 0 {
					seen[w] |= bit
					cand = append(cand, g)
				}
			}
		}
	}
	return matchGroupsParallel(r, cand)
}

// matchGroupsParallel is matchGroups spread over the processors when there
// are many candidate groups.
func matchGroupsParallel(r *Rules, cand []*group) []GroupResult {
	workers := runtime.GOMAXPROCS(0)
	if len(cand) < 2048 || workers < 2 {
		return matchGroups(r, cand)
	}
	parts := make([][]GroupResult, workers)
	var wg sync.WaitGroup
	chunk := (len(cand) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(cand))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w int, gs []*group) {
			defer wg.Done()
			parts[w] = matchGroups(r, gs)
		}(w, cand[lo:hi])
	}
	wg.Wait()
	var out []GroupResult
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// projection is the part of an identity set that rules can see: the
// interned identities whose keys the rules name, and which CPE parts the
// set has (platform criteria depend on them). Groups with the same
// projection get the same result.
type projection struct {
	ids   [4]*Identity
	parts [3]bool
}

func project(r *Rules, t *Target) (projection, bool) {
	var p projection
	if !r.prepared || r.wildAll {
		return p, false
	}
	n := 0
	for i := range t.Identities {
		id := &t.Identities[i]
		if !r.allKeys[id.key] {
			continue
		}
		if id.origin == nil || n == len(p.ids) {
			return p, false
		}
		p.ids[n] = id.origin
		n++
	}
	p.parts = t.parts
	return p, true
}

// matchGroups evaluates rules against groups. Groups with the same
// projection share one evaluation and one GroupResult (their assets
// concatenated), so a CVE affecting 70,000 assets in 60,000 groups returns
// a handful of results and allocates little.
func matchGroups(r *Rules, gs []*group) []GroupResult {
	var sc scratch
	memo := map[projection]int32{}
	var results []Result
	counts := []int{}
	which := make([]int32, len(gs))
	for i, g := range gs {
		p, ok := project(r, g.target)
		ri, hit := memo[p]
		if !ok || !hit {
			res := evaluate(r, g.target, &sc)
			ri = -1
			if res.Affected {
				ri = int32(len(results))
				results = append(results, res)
				counts = append(counts, 0)
			}
			if ok {
				memo[p] = ri
			}
		}
		which[i] = ri
		if ri >= 0 {
			counts[ri] += len(g.members)
		}
	}
	if len(results) == 0 {
		return nil
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	ids := make([]string, total)
	infos := make([]uint8, total)
	out := make([]GroupResult, len(results))
	off := 0
	for i, c := range counts {
		out[i] = GroupResult{AssetIDs: ids[off : off : off+c], Info: infos[off : off : off+c], Result: results[i]}
		off += c
	}
	for i, g := range gs {
		if ri := which[i]; ri >= 0 {
			out[ri].AssetIDs = append(out[ri].AssetIDs, g.members...)
			out[ri].Info = append(out[ri].Info, g.info...)
		}
	}
	return out
}

// HasKey reports whether some asset of the index has an identity with
// the "vendor:product" key k.
func (x *Index) HasKey(k string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byKey[k]) > 0
}

func ParseNames(s string) []cpe.Name {
	var out []cpe.Name
	for _, f := range strings.Split(s, "\n") {
		if f == "" {
			continue
		}
		if n, err := cpe.Parse(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
