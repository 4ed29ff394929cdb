package match

import (
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Rules says which products a vulnerability affects, in NVD's model: a
// list of alternative configurations, each a set of nodes joined by AND or
// OR, each node a set of match criteria. Vendor advisories and KEV entries
// are compiled into the same model.
type Rules struct {
	// Source names where the rules come from ("nvd", "fortinet", "kev").
	Source string
	// Configs are alternatives: the asset is affected if any holds.
	Configs []Config
	// Pending is true when the source has no product data yet (an NVD
	// record awaiting analysis); no asset matches such rules.
	Pending bool

	// byKey lists, per vulnerable "vendor:product" key, the configurations
	// that hold it; anyKey those with a wildcard vendor or product.
	byKey    map[string][]int
	anyKey   []int
	prepared bool
	// allKeys holds the keys of every criterion, platforms included;
	// wildAll is set when some criterion has no plain key.
	allKeys map[string]bool
	wildAll bool
}

// Config is one configuration: Nodes joined by Operator (AND or OR),
// the result inverted when Negate is set.
type Config struct {
	Operator string
	Negate   bool
	Nodes    []Node
}

// prepare indexes the configurations by their vulnerable keys, so that
// Evaluate only looks at configurations an asset could satisfy.
func (r *Rules) Prepare() *Rules {
	r.byKey, r.anyKey = map[string][]int{}, nil
	r.allKeys, r.wildAll = map[string]bool{}, false
	for i := range r.Configs {
		wild := false
		var keys []string
		for _, n := range r.Configs[i].Nodes {
			for _, cr := range n.Criteria {
				if cr.key == "" {
					r.wildAll = true
				} else {
					r.allKeys[cr.key] = true
				}
				if !cr.Vulnerable {
					continue
				}
				if cr.key == "" {
					wild = true
				} else if !slices.Contains(keys, cr.key) {
					keys = append(keys, cr.key)
				}
			}
		}
		if wild {
			r.anyKey = append(r.anyKey, i)
			continue
		}
		for _, k := range keys {
			r.byKey[k] = append(r.byKey[k], i)
		}
	}
	r.prepared = true
	return r
}

// candidates returns the indexes of the configurations t could satisfy,
// in order.
func (r *Rules) candidates(t *Target, buf []int) []int {
	if !r.prepared {
		for i := range r.Configs {
			buf = append(buf, i)
		}
		return buf
	}
	buf = append(buf, r.anyKey...)
	for i := range t.Identities {
		buf = append(buf, r.byKey[t.Identities[i].key]...)
	}
	if len(buf) > 1 {
		slices.Sort(buf)
		buf = slices.Compact(buf)
	}
	return buf
}

// Node is a list of criteria joined by Operator, inverted when Negate.
type Node struct {
	Operator string
	Negate   bool
	Criteria []*Criterion
}

// Criterion is one compiled match criterion.
type Criterion struct {
	// Raw is the criterion as the source wrote it.
	Raw string
	// ID is NVD's matchCriteriaId, when there is one.
	ID string
	// Name is the parsed CPE name.
	Name cpe.Name
	// Vulnerable false marks a platform (running-on or running-with) entry.
	Vulnerable bool
	// StartIncluding … EndExcluding are the version bounds ("" = none).
	StartIncluding, StartExcluding, EndIncluding, EndExcluding string
	// ProductOnly marks criteria that name a product without any version
	// information (KEV, vendor advisories without versions): a match is
	// never better than ConfidenceProduct.
	ProductOnly bool
	// Qualified marks a range that a source narrowed with words medisac
	// cannot check (JVN's "core 2.0 から …"): inside the range the match is
	// only ConfidenceProduct.
	Qualified bool
	// FixedIn lists the first fixed releases a vendor advisory names.
	FixedIn []string

	scheme version.Scheme
	bounds [4]bound
	// key is "vendor:product" when both are plain strings ("" otherwise).
	key string
	// want, cpv and base are the criterion's own version (joined with its
	// update) and the bare version, parsed once.
	want        string
	cpv, base   version.Version
	cerr, berr  error
	updateNamed bool
	// The generic scheme's reading of the bounds (when the criterion's own
	// scheme cannot read one) and of the version (when it cannot read
	// that), parsed once (gset).
	gbounds [4]bound
	gbOK    bool
	gcpv    version.Version
	gcerr   error
	gset    bool
}

type bound struct {
	text   string
	parsed version.Version
	err    error
}

// HasRange reports whether the criterion carries any version bound.
func (c *Criterion) HasRange() bool {
	return c.StartIncluding != "" || c.StartExcluding != "" || c.EndIncluding != "" || c.EndExcluding != ""
}

// RangeText returns the bounds in a short mathematical form
// ("[6.0.0, 6.0.16)"), or "" without bounds.
func (c *Criterion) RangeText() string {
	if !c.HasRange() {
		return ""
	}
	var b strings.Builder
	switch {
	case c.StartIncluding != "":
		b.WriteString("[" + c.StartIncluding)
	case c.StartExcluding != "":
		b.WriteString("(" + c.StartExcluding)
	default:
		b.WriteString("(")
	}
	b.WriteString(", ")
	switch {
	case c.EndIncluding != "":
		b.WriteString(c.EndIncluding + "]")
	case c.EndExcluding != "":
		b.WriteString(c.EndExcluding + ")")
	default:
		b.WriteString(")")
	}
	return b.String()
}

// Scheme returns the version scheme chosen for the criterion.
func (c *Criterion) Scheme() version.Scheme { return c.scheme }

// Key returns the criterion's "vendor:product" index key.
func (c *Criterion) Key() string {
	if c.key != "" {
		return c.key
	}
	return c.Name.Key()
}

// compile picks the scheme and parses the bounds once.
func (c *Criterion) Compile(reg *version.Registry) {
	c.scheme = reg.For(c.Name.Text(cpe.Vendor), c.Name.Text(cpe.Product))
	for i, t := range []string{c.StartIncluding, c.StartExcluding, c.EndIncluding, c.EndExcluding} {
		if t == "" {
			continue
		}
		p, err := c.scheme.Parse(t)
		c.bounds[i] = bound{text: t, parsed: p, err: err}
	}
	v, p := c.Name[cpe.Vendor], c.Name[cpe.Product]
	if v.Kind == cpe.Str && p.Kind == cpe.Str && !v.HasWildcards() && !p.HasWildcards() {
		c.key = c.Name.Key()
	}
	if cv := c.Name[cpe.Version]; cv.Kind == cpe.Str && !cv.HasWildcards() {
		c.want = version.JoinCPE(c.scheme, c.Name.Text(cpe.Version), c.Name.Get(cpe.Update).String())
		c.cpv, c.cerr = c.scheme.Parse(c.want)
		c.base, c.berr = c.scheme.Parse(c.Name.Text(cpe.Version))
		c.updateNamed = c.Name[cpe.Update].Kind == cpe.Str
		if c.cerr != nil {
			c.gcpv, c.gcerr = version.Generic{}.Parse(c.want)
		}
	}
	if boundsErr(c.bounds) {
		c.gbounds, c.gbOK = parseGenericBounds(c.bounds)
	}
	c.gset = true
}

// NewCriterion compiles a criterion from a CPE string and bounds; it is
// how callers outside NVD (tests, vendor feeds) build rules.
func NewCriterion(reg *version.Registry, criteria string, vulnerable bool, startIncl, startExcl, endIncl, endExcl string) (*Criterion, error) {
	n, err := ParseCPE(criteria)
	if err != nil {
		return nil, err
	}
	c := &Criterion{Raw: criteria, Name: n, Vulnerable: vulnerable, StartIncluding: startIncl,
		StartExcluding: startExcl, EndIncluding: endIncl, EndExcluding: endExcl}
	c.Compile(reg)
	return c, nil
}

// Keys returns the distinct "vendor:product" keys of the vulnerable
// criteria: an asset can only be affected if it has an identity with one
// of these keys, unless wildcard is true: some vulnerable criterion has
// an ANY or wildcard vendor or product and every asset is a candidate.
func (r *Rules) Keys() (keys []string, wildcard bool) {
	seen := map[string]bool{}
	for cr := range r.Vulnerable() {
		v, p := cr.Name[cpe.Vendor], cr.Name[cpe.Product]
		if v.Kind != cpe.Str || p.Kind != cpe.Str || v.HasWildcards() || p.HasWildcards() {
			wildcard = true
			continue
		}
		k := cr.Key()
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, wildcard
}

// Vulnerable yields the criteria of every configuration that mark a
// vulnerable product (not a platform it runs on), in order.
func (r *Rules) Vulnerable() iter.Seq[*Criterion] {
	return func(yield func(*Criterion) bool) {
		for _, c := range r.Configs {
			for _, n := range c.Nodes {
				for _, cr := range n.Criteria {
					if cr.Vulnerable && !yield(cr) {
						return
					}
				}
			}
		}
	}
}

// cpeCache memoises criteria parsing: NVD repeats the same criteria
// strings thousands of times across records.
// It holds at most cpeCacheMax entries.
var (
	cpeCache     sync.Map
	cpeCacheSize atomic.Int64
)

const cpeCacheMax = 200_000

func ParseCPE(s string) (cpe.Name, error) {
	if v, ok := cpeCache.Load(s); ok {
		return v.(cpe.Name), nil
	}
	n, err := cpe.Parse(s)
	if err != nil {
		return n, err
	}
	if cpeCacheSize.Load() < cpeCacheMax {
		if _, loaded := cpeCache.LoadOrStore(s, n); !loaded {
			cpeCacheSize.Add(1)
		}
	}
	return n, nil
}
