package vuln

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// rulesJSON is the stored form of Rules: criteria as formatted-string CPE
// names with their bounds and flags, compiled again when loaded.
type rulesJSON struct {
	Source  string       `json:"s"`
	Pending bool         `json:"p,omitempty"`
	Configs []configJSON `json:"c,omitempty"`
}

type configJSON struct {
	Op     string     `json:"o,omitempty"`
	Negate bool       `json:"n,omitempty"`
	Nodes  []nodeJSON `json:"d"`
}

type nodeJSON struct {
	Op       string          `json:"o,omitempty"`
	Negate   bool            `json:"n,omitempty"`
	Criteria []criterionJSON `json:"c"`
}

type criterionJSON struct {
	CPE         string   `json:"c"`
	ID          string   `json:"id,omitempty"`
	Vulnerable  bool     `json:"v,omitempty"`
	SI          string   `json:"si,omitempty"`
	SE          string   `json:"se,omitempty"`
	EI          string   `json:"ei,omitempty"`
	EE          string   `json:"ee,omitempty"`
	ProductOnly bool     `json:"po,omitempty"`
	Qualified   bool     `json:"q,omitempty"`
	FixedIn     []string `json:"f,omitempty"`
}

// MarshalRules encodes rules for storage; UnmarshalRules reads them back.
func MarshalRules(r *Rules) ([]byte, error) {
	out := rulesJSON{Source: r.Source, Pending: r.Pending}
	for _, c := range r.Configs {
		cj := configJSON{Op: c.Operator, Negate: c.Negate}
		for _, n := range c.Nodes {
			nj := nodeJSON{Op: n.Operator, Negate: n.Negate}
			for _, cr := range n.Criteria {
				nj.Criteria = append(nj.Criteria, criterionJSON{CPE: cr.Name.FormatFS(), ID: cr.ID, Vulnerable: cr.Vulnerable,
					SI: cr.StartIncluding, SE: cr.StartExcluding, EI: cr.EndIncluding, EE: cr.EndExcluding,
					ProductOnly: cr.ProductOnly, Qualified: cr.Qualified, FixedIn: cr.FixedIn})
			}
			cj.Nodes = append(cj.Nodes, nj)
		}
		out.Configs = append(out.Configs, cj)
	}
	return json.Marshal(out)
}

// UnmarshalRules decodes rules written by MarshalRules and compiles them
// with reg's version schemes.
func UnmarshalRules(data []byte, reg *version.Registry) (*Rules, error) {
	var in rulesJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("vuln: stored rules: %w", err)
	}
	r := &Rules{Source: in.Source, Pending: in.Pending}
	for _, cj := range in.Configs {
		c := Config{Operator: cj.Op, Negate: cj.Negate}
		for _, nj := range cj.Nodes {
			n := Node{Operator: nj.Op, Negate: nj.Negate}
			for _, k := range nj.Criteria {
				name, err := cpe.Parse(k.CPE)
				if err != nil {
					return nil, fmt.Errorf("vuln: stored rules: %q: %w", k.CPE, err)
				}
				cr := &Criterion{Raw: k.CPE, ID: k.ID, Name: name, Vulnerable: k.Vulnerable,
					StartIncluding: k.SI, StartExcluding: k.SE, EndIncluding: k.EI, EndExcluding: k.EE,
					ProductOnly: k.ProductOnly, Qualified: k.Qualified, FixedIn: k.FixedIn}
				cr.compile(reg)
				n.Criteria = append(n.Criteria, cr)
			}
			c.Nodes = append(c.Nodes, n)
		}
		r.Configs = append(r.Configs, c)
	}
	return r.prepare(), nil
}

// FixedVersions returns the first fixed releases the rules name: the
// vendor's own fixed_in lists, and the exclusive upper bounds of vulnerable
// ranges (the first version outside the range), in order, without repeats.
func (r *Rules) FixedVersions() []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, c := range r.Configs {
		for _, n := range c.Nodes {
			for _, cr := range n.Criteria {
				if !cr.Vulnerable {
					continue
				}
				for _, f := range cr.FixedIn {
					add(f)
				}
				add(cr.EndExcluding)
			}
		}
	}
	return out
}

// FixedFor returns the fixed versions relevant to the hits of a result:
// the fixed_in lists of the matched criteria, else their exclusive upper
// bounds.
func FixedFor(res Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range res.Hits {
		if h.Criterion == nil {
			continue
		}
		vs := h.Criterion.FixedIn
		if len(vs) == 0 && h.Criterion.EndExcluding != "" {
			vs = []string{h.Criterion.EndExcluding}
		}
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// VendorKey returns the normalised key of a vendor name as the alias
// table knows it (its CPE vendor), else the name folded for comparison;
// CSAF products and assets agree on a vendor when their keys are equal.
func (a *Aliases) VendorKey(vendor string) string {
	if k := a.vendorFor(vendor); k != "" {
		return k
	}
	return nameKey(vendor)
}

// HasKey reports whether some asset of the index has an identity with
// the "vendor:product" key k.
func (x *Index) HasKey(k string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byKey[k]) > 0
}

// storedRules is rules in their stored form with the facts the store
// indexes.
type storedRules struct {
	data    []byte
	keys    []string
	wild    bool
	fixed   []string
	pending bool
}

// nvdStored turns an NVD record's configurations into the stored form of
// its rules without compiling version bounds (that happens when the rules
// are loaded for matching): CPE names are parsed (those of a withdrawn
// record too), so a record with a bad one rejects the file exactly as
// CompileNVD and validateNVD would.
func nvdStored(rec *NVDCVE) (storedRules, error) {
	out := rulesJSON{Source: "nvd", Pending: len(rec.Configurations) == 0 || rec.Rejected()}
	var st storedRules
	st.pending = out.Pending
	if !out.Pending {
		seen := map[string]bool{}
		for _, cfg := range rec.Configurations {
			cj := configJSON{Op: strings.ToUpper(cfg.Operator), Negate: cfg.Negate}
			for _, n := range cfg.Nodes {
				nj := nodeJSON{Op: strings.ToUpper(n.Operator), Negate: n.Negate, Criteria: make([]criterionJSON, 0, len(n.CPEMatch))}
				for _, m := range n.CPEMatch {
					name, err := parseCPE(m.Criteria)
					if err != nil {
						return st, feedErr("vuln.feed.bad_cpe", "nvd", errDetail("%s: %v", rec.ID, err))
					}
					nj.Criteria = append(nj.Criteria, criterionJSON{CPE: m.Criteria, ID: m.MatchCriteriaID, Vulnerable: m.Vulnerable,
						SI: m.VersionStartIncluding, SE: m.VersionStartExcluding, EI: m.VersionEndIncluding, EE: m.VersionEndExcluding})
					if !m.Vulnerable {
						continue
					}
					v, p := name[cpe.Vendor], name[cpe.Product]
					if v.Kind != cpe.Str || p.Kind != cpe.Str || v.HasWildcards() || p.HasWildcards() {
						st.wild = true
					} else if k := name.Key(); !seen[k] {
						seen[k] = true
						st.keys = append(st.keys, k)
					}
					if m.VersionEndExcluding != "" && !seen["\x00"+m.VersionEndExcluding] {
						seen["\x00"+m.VersionEndExcluding] = true
						st.fixed = append(st.fixed, m.VersionEndExcluding)
					}
				}
				cj.Nodes = append(cj.Nodes, nj)
			}
			out.Configs = append(out.Configs, cj)
		}
	}
	if out.Pending {
		// A withdrawn record's configurations are not kept, but a bad
		// name in them still rejects the file.
		if err := validateCPEs(rec); err != nil {
			return st, err
		}
	}
	var err error
	st.data, err = json.Marshal(out)
	return st, err
}
