// Package match decides which assets a vulnerability affects: rules in
// NVD's model (configurations, nodes, criteria with version bounds) and
// their stored form, NVD configuration evaluation with its full
// semantics, version ranges, the asset identities derived from inventory
// fields through an alias table (Identify), and an index that matches one
// vulnerability against a million assets. CPE names live in vuln/cpe,
// version schemes in vuln/version. Nothing here touches the database or
// reads a feed.
package match

import (
	"slices"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// Confidence grades a match.
type Confidence string

// The confidences. ConfidenceProduct is shown as 「要確認」: the product
// matches but the version (or the platform, the edition) could not be
// confirmed; such matches are reported, never dropped.
const (
	ConfidenceExact   Confidence = "exact"
	ConfidenceProduct Confidence = "product"
)

// Reason says why a match is not exact.
type Reason string

// The reasons a match is only ConfidenceProduct.
const (
	ReasonVersionUnknown     Reason = "version_unknown"     // the asset's version is not recorded
	ReasonVersionUnparseable Reason = "version_unparseable" // the version text is not a version of the scheme
	ReasonVersionFamily      Reason = "version_family"      // only the release family is known ("6.4.x") and it straddles a bound
	ReasonUpdateUnknown      Reason = "update_unknown"      // the criterion names an update/patch level the asset does not record
	ReasonAttributeUnknown   Reason = "attribute_unknown"   // the criterion names an edition the asset does not record
	ReasonPlatformUnknown    Reason = "platform_unknown"    // the vulnerable product must run on a platform the asset does not record
	ReasonNoVersionData      Reason = "no_version_data"     // the source names the product without versions
)

// Identity is one CPE identity of an asset (its OS or firmware, its
// hardware, an application) with its version parsed once.
type Identity struct {
	Name   cpe.Name
	origin *Identity
	key    string
	ver    string
	sch    version.Scheme
	pv     version.Version
	perr   error
	// gpv is the version parsed by the generic scheme, for criteria whose
	// own bounds the vendor scheme cannot read (gset: parsed).
	gpv   version.Version
	gperr error
	gset  bool
}

// setVersion parses the identity's version by its scheme and by the
// generic one, once.
func (id *Identity) setVersion(sch version.Scheme, ver string) {
	id.sch, id.ver = sch, ver
	id.pv, id.perr = sch.Parse(ver)
	if sch.Name() == (version.Generic{}).Name() {
		id.gpv, id.gperr = id.pv, id.perr
	} else {
		id.gpv, id.gperr = version.Generic{}.Parse(ver)
	}
	id.gset = true
}

// genericVersion is the identity's version parsed by the generic scheme.
func (id *Identity) genericVersion() (version.Version, error) {
	if id.gset {
		return id.gpv, id.gperr
	}
	return version.Generic{}.Parse(id.ver)
}

// Target is an asset prepared for matching: its identities with versions
// parsed by the scheme of each identity's vendor and product.
type Target struct {
	ID         string
	Identities []Identity
	parts      [3]bool
}

// NewTarget prepares an asset's identities for matching. Identities whose
// vendor or product is not a plain string are ignored.
func NewTarget(id string, names []cpe.Name, reg *version.Registry) *Target {
	t := &Target{ID: id}
	for _, n := range names {
		if n[cpe.Vendor].Kind != cpe.Str || n[cpe.Product].Kind != cpe.Str || n[cpe.Vendor].HasWildcards() || n[cpe.Product].HasWildcards() {
			continue
		}
		idn := Identity{Name: n, key: n.Key()}
		idn.sch = reg.For(n.Text(cpe.Vendor), n.Text(cpe.Product))
		if n[cpe.Version].Kind == cpe.Str && !n[cpe.Version].HasWildcards() {
			idn.setVersion(idn.sch, version.JoinCPE(idn.sch, n.Text(cpe.Version), n.Get(cpe.Update).String()))
		}
		t.add(idn)
	}
	return t
}

func (t *Target) add(idn Identity) {
	t.Identities = append(t.Identities, idn)
	switch idn.Name.Text(cpe.Part) {
	case "a":
		t.parts[0] = true
	case "o":
		t.parts[1] = true
	case "h":
		t.parts[2] = true
	}
}

func (t *Target) hasPart(p string) bool {
	switch p {
	case "a":
		return t.parts[0]
	case "o":
		return t.parts[1]
	case "h":
		return t.parts[2]
	}
	return len(t.Identities) > 0
}

// tri is Kleene's three-valued logic.
type Tri uint8

const (
	No Tri = iota
	Maybe
	Yes
)

func not(t Tri) Tri { return Yes - t }

// Hit is one vulnerable criterion that matched an asset identity.
type Hit struct {
	Criterion *Criterion
	Identity  *Identity
	Exact     bool
	Reason    Reason
}

// Result is the answer for one asset and one set of rules.
type Result struct {
	// Affected is true when the asset is or may be affected.
	Affected bool
	// Confidence is exact when some configuration holds with every version
	// and platform confirmed, product otherwise (「要確認」).
	Confidence Confidence
	// Hits are the vulnerable criteria that matched, exact ones first.
	Hits []Hit
	// Reasons say why the match is not exact (empty when it is).
	Reasons []Reason
}

// Evaluate matches rules against an asset with NVD's full semantics:
// configurations are alternatives; nodes and criteria are joined by their
// AND/OR operators and inverted by negate; non-vulnerable criteria are
// platform conditions; the four version bounds are compared with the
// criterion's vendor scheme. Unknowns (missing version, unparseable
// version, unrecorded platform) propagate by three-valued logic and give a
// ConfidenceProduct result instead of being dropped. A configuration
// counts only if one of its vulnerable criteria matched an identity.
func Evaluate(r *Rules, t *Target) Result {
	var sc scratch
	return evaluate(r, t, &sc)
}

// scratch holds buffers reused across evaluations by one goroutine.
type scratch struct {
	ev      evaluator
	hits    []Hit
	reasons []Reason
	cands   []int
}

func evaluate(r *Rules, t *Target, sc *scratch) Result {
	var res Result
	if r == nil || r.Pending || t == nil {
		return res
	}
	best := No
	sc.hits, sc.reasons = sc.hits[:0], sc.reasons[:0]
	ev := &sc.ev
	ev.t = t
	sc.cands = r.candidates(t, sc.cands[:0])
	for _, ci := range sc.cands {
		cfg := &r.Configs[ci]
		ev.hits, ev.reasons = ev.hits[:0], ev.reasons[:0]
		v := ev.config(cfg)
		if v == No || len(ev.hits) == 0 {
			continue
		}
		if v == Yes {
			if best != Yes {
				sc.hits, sc.reasons = sc.hits[:0], sc.reasons[:0]
			}
			best = Yes
			sc.hits = append(sc.hits, ev.hits...)
			continue
		}
		if best == Yes {
			continue
		}
		best = Maybe
		sc.hits = append(sc.hits, ev.hits...)
		sc.reasons = append(sc.reasons, ev.reasons...)
	}
	switch best {
	case Yes:
		res.Affected, res.Confidence = true, ConfidenceExact
	case Maybe:
		res.Affected, res.Confidence = true, ConfidenceProduct
		res.Reasons = uniqReasons(sc.reasons)
	default:
		return res
	}
	res.Hits = slices.Clone(sc.hits)
	sortHits(res.Hits)
	return res
}

func uniqReasons(rs []Reason) []Reason {
	var out []Reason
	for _, r := range rs {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func sortHits(h []Hit) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Exact && !h[j-1].Exact; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

type evaluator struct {
	t       *Target
	hits    []Hit
	reasons []Reason
	negated int
}

func (e *evaluator) config(c *Config) Tri {
	if c.Negate {
		e.negated++
		defer func() { e.negated-- }()
	}
	and := c.Operator == "AND"
	acc := Yes
	if !and {
		acc = No
	}
	for i := range c.Nodes {
		v := e.node(&c.Nodes[i])
		acc = combine(acc, v, and)
	}
	if c.Negate {
		acc = not(acc)
	}
	return acc
}

func (e *evaluator) node(n *Node) Tri {
	if n.Negate {
		e.negated++
		defer func() { e.negated-- }()
	}
	and := n.Operator == "AND"
	acc := Yes
	if !and {
		acc = No
	}
	for _, c := range n.Criteria {
		acc = combine(acc, e.criterion(c), and)
	}
	if n.Negate {
		acc = not(acc)
	}
	return acc
}

func combine(acc, v Tri, and bool) Tri {
	if and {
		return min(acc, v)
	}
	return max(acc, v)
}

// criterion evaluates one criterion against every identity of the asset
// (OR over identities).
func (e *evaluator) criterion(c *Criterion) Tri {
	best := No
	var bestReason Reason
	var bestID *Identity
	productSeen := false
	for i := range e.t.Identities {
		id := &e.t.Identities[i]
		v, reason, product := matchIdentity(c, id)
		if product {
			productSeen = true
		}
		if v > best {
			best, bestReason, bestID = v, reason, id
		}
		if best == Yes {
			break
		}
	}
	if !c.Vulnerable && !productSeen {
		if e.t.hasPart(c.Name.Text(cpe.Part)) {
			return No
		}
		e.reasons = append(e.reasons, ReasonPlatformUnknown)
		return Maybe
	}
	if best == Maybe {
		e.reasons = append(e.reasons, bestReason)
	}
	if c.Vulnerable && best != No && e.negated == 0 {
		e.hits = append(e.hits, Hit{Criterion: c, Identity: bestID, Exact: best == Yes, Reason: bestReason})
	}
	return best
}

// matchIdentity compares a criterion (the source) with one identity (the
// target). product reports whether part, vendor and product matched.
func matchIdentity(c *Criterion, id *Identity) (v Tri, reason Reason, product bool) {
	if c.key != "" && c.key != id.key {
		return No, "", false
	}
	for _, a := range []cpe.Attribute{cpe.Part, cpe.Vendor, cpe.Product} {
		switch cpe.CompareValues(c.Name[a], id.Name[a]) {
		case cpe.Equal, cpe.Superset:
		default:
			return No, "", false
		}
	}
	v = Yes
	for _, a := range []cpe.Attribute{cpe.Edition, cpe.SWEdition, cpe.Language, cpe.TargetSW, cpe.TargetHW, cpe.Other} {
		switch cpe.CompareValues(c.Name[a], id.Name[a]) {
		case cpe.Equal, cpe.Superset:
		case cpe.Disjoint:
			return No, "", true
		default:
			if a == cpe.Edition || a == cpe.SWEdition {
				v, reason = Maybe, ReasonAttributeUnknown
			}
		}
	}
	if c.ProductOnly {
		return Maybe, ReasonNoVersionData, true
	}
	vv, vr := matchVersion(c, id)
	if vv < v {
		v, reason = vv, vr
	}
	if v == Yes && c.Qualified {
		v, reason = Maybe, ReasonAttributeUnknown
	}
	return v, reason, true
}

func matchVersion(c *Criterion, id *Identity) (Tri, Reason) {
	cv := c.Name[cpe.Version]
	av := id.Name[cpe.Version]
	switch cv.Kind {
	case cpe.Any:
		if !c.HasRange() {
			return updateCheck(c, id)
		}
		return inRange(c, id)
	case cpe.NA:
		if av.Kind == cpe.NA || !c.Vulnerable {
			return Yes, ""
		}
		return Maybe, ReasonNoVersionData
	}
	if cv.HasWildcards() {
		if av.Kind != cpe.Str {
			return Maybe, ReasonVersionUnknown
		}
		switch cpe.CompareValues(cv, av) {
		case cpe.Superset, cpe.Equal:
			return updateCheck(c, id)
		}
		return No, ""
	}
	if av.Kind != cpe.Str || av.HasWildcards() {
		return Maybe, ReasonVersionUnknown
	}
	sch := c.scheme
	if sch == nil {
		sch = version.Generic{}
	}
	if cv == av && cpe.CompareValues(c.Name[cpe.Update], id.Name[cpe.Update]) == cpe.Equal {
		return Yes, ""
	}
	want := c.want
	apv, aerr := assetVersion(id, sch)
	cpv, cerr := c.cpv, c.cerr
	if want == "" {
		want = version.JoinCPE(sch, c.Name.Text(cpe.Version), c.Name.Get(cpe.Update).String())
		cpv, cerr = sch.Parse(want)
	}
	switch {
	case aerr != nil && cerr == nil:
		return Maybe, ReasonVersionUnparseable
	case cerr != nil:
		apv, aerr = id.genericVersion()
		if c.gset && want == c.want {
			cpv, cerr = c.gcpv, c.gcerr
		} else {
			cpv, cerr = version.Generic{}.Parse(want)
		}
		if aerr != nil || cerr != nil {
			return Maybe, ReasonVersionUnparseable
		}
	}
	updateNamed := c.Name[cpe.Update].Kind == cpe.Str
	switch {
	case apv.Partial:
		if apv.Low().Cmp(cpv) <= 0 && cpv.Cmp(apv.High()) <= 0 {
			return Maybe, ReasonVersionFamily
		}
		return No, ""
	case apv.Cmp(cpv) == 0:
		if c.Name[cpe.Update].Kind != cpe.Any && id.Name[cpe.Update].Kind == cpe.Any && !encodesUpdate(sch) {
			return Maybe, ReasonUpdateUnknown
		}
		return Yes, ""
	case cpv.Partial && !updateNamed:
		// A release family as criterion ("13.0", "9.0"): every build of it.
		if cpv.Low().Cmp(apv) <= 0 && apv.Cmp(cpv.High()) <= 0 {
			return Yes, ""
		}
	}
	if updateNamed && id.Name[cpe.Update].Kind == cpe.Any {
		base, err := c.base, c.berr
		if c.want == "" {
			base, err = sch.Parse(c.Name.Text(cpe.Version))
		}
		if err == nil && base.Scheme() == apv.Scheme() && base.Cmp(apv) == 0 {
			return Maybe, ReasonUpdateUnknown
		}
	}
	return No, ""
}

// encodesUpdate reports whether the scheme's version text carries what
// NVD puts in the CPE update (PAN-OS hotfix, Ivanti release), so that a
// version without one means "no update" rather than "update unknown".
func encodesUpdate(s version.Scheme) bool {
	switch s.(type) {
	case version.PANOS, version.Ivanti:
		return true
	}
	return false
}

// updateCheck handles a criterion that matches every version but may name
// an update.
func updateCheck(c *Criterion, id *Identity) (Tri, Reason) {
	switch cpe.CompareValues(c.Name[cpe.Update], id.Name[cpe.Update]) {
	case cpe.Equal, cpe.Superset:
		return Yes, ""
	case cpe.Disjoint:
		return No, ""
	}
	return Maybe, ReasonUpdateUnknown
}

func assetVersion(id *Identity, sch version.Scheme) (version.Version, error) {
	if id.sch != nil && id.sch.Name() == sch.Name() {
		return id.pv, id.perr
	}
	return sch.Parse(id.ver)
}

func inRange(c *Criterion, id *Identity) (Tri, Reason) {
	if id.ver == "" {
		return Maybe, ReasonVersionUnknown
	}
	sch := c.scheme
	v, err := assetVersion(id, sch)
	bs := c.bounds
	if err != nil && !boundsErr(bs) {
		return Maybe, ReasonVersionUnparseable
	}
	if boundsErr(bs) {
		v, err = id.genericVersion()
		if err != nil {
			return Maybe, ReasonVersionUnparseable
		}
		var ok bool
		if bs, ok = c.genericBounds(); !ok {
			return Maybe, ReasonVersionUnparseable
		}
	}
	if !v.Partial {
		if within(v, bs) {
			return Yes, ""
		}
		return No, ""
	}
	lo, hi := v.Low(), v.High()
	if within(lo, bs) && within(hi, bs) {
		return Yes, ""
	}
	if below(hi, bs) || above(lo, bs) {
		return No, ""
	}
	return Maybe, ReasonVersionFamily
}

// genericBounds are the criterion's bounds parsed by the generic scheme
// (for when its own scheme cannot read one); ok is false when the generic
// scheme cannot either.
func (c *Criterion) genericBounds() (bs [4]bound, ok bool) {
	if c.gset {
		return c.gbounds, c.gbOK
	}
	return parseGenericBounds(c.bounds)
}

func parseGenericBounds(in [4]bound) (bs [4]bound, ok bool) {
	g := version.Generic{}
	for i := range in {
		if in[i].text != "" {
			bs[i].text = in[i].text
			bs[i].parsed, bs[i].err = g.Parse(in[i].text)
			if bs[i].err != nil {
				return bs, false
			}
		}
	}
	return bs, true
}

func boundsErr(bs [4]bound) bool {
	for _, b := range bs {
		if b.text != "" && b.err != nil {
			return true
		}
	}
	return false
}

// within reports whether v satisfies all four bounds
// (startIncluding, startExcluding, endIncluding, endExcluding).
func within(v version.Version, bs [4]bound) bool {
	return !below(v, bs) && !above(v, bs)
}

func below(v version.Version, bs [4]bound) bool {
	if bs[0].text != "" && v.Cmp(bs[0].parsed) < 0 {
		return true
	}
	return bs[1].text != "" && v.Cmp(bs[1].parsed) <= 0
}

func above(v version.Version, bs [4]bound) bool {
	if bs[2].text != "" && v.Cmp(bs[2].parsed) > 0 {
		return true
	}
	return bs[3].text != "" && v.Cmp(bs[3].parsed) >= 0
}
