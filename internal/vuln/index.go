package vuln

import (
	"sync"

	"github.com/medisac/medisac/internal/vuln/version"
)

// Index holds prepared assets keyed by the "vendor:product" of each of
// their identities, so that matching one vulnerability only looks at the
// assets that could be affected. It is safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	reg     *version.Registry
	targets map[string]*Target
	byKey   map[string][]*Target
}

// NewIndex returns an empty index that parses versions with reg.
func NewIndex(reg *version.Registry) *Index {
	return &Index{reg: reg, targets: map[string]*Target{}, byKey: map[string][]*Target{}}
}

// Put adds or replaces an asset.
func (x *Index) Put(t *Target) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.targets[t.ID]; ok {
		x.remove(old)
	}
	x.targets[t.ID] = t
	seen := map[string]bool{}
	for i := range t.Identities {
		k := t.Identities[i].key
		if !seen[k] {
			seen[k] = true
			x.byKey[k] = append(x.byKey[k], t)
		}
	}
}

// Delete removes an asset; it does nothing if the asset is not held.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.targets[id]; ok {
		x.remove(old)
		delete(x.targets, id)
	}
}

func (x *Index) remove(t *Target) {
	for i := range t.Identities {
		k := t.Identities[i].key
		list := x.byKey[k]
		for j, o := range list {
			if o == t {
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
	return len(x.targets)
}

// AssetResult is the result for one affected asset.
type AssetResult struct {
	AssetID string
	Result
}

// Match evaluates rules against every candidate asset and returns the
// affected ones (exact and 「要確認」 alike), in no particular order.
func (x *Index) Match(r *Rules) []AssetResult {
	if r == nil || r.Pending {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	keys, wildcard := r.Keys()
	var out []AssetResult
	visit := func(t *Target) {
		if res := Evaluate(r, t); res.Affected {
			out = append(out, AssetResult{AssetID: t.ID, Result: res})
		}
	}
	if wildcard {
		for _, t := range x.targets {
			visit(t)
		}
		return out
	}
	if len(keys) == 1 {
		for _, t := range x.byKey[keys[0]] {
			visit(t)
		}
		return out
	}
	seen := map[*Target]bool{}
	for _, k := range keys {
		for _, t := range x.byKey[k] {
			if !seen[t] {
				seen[t] = true
				visit(t)
			}
		}
	}
	return out
}
