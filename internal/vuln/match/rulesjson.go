package match

import (
	"encoding/json"
	"fmt"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

// rulesJSON is the stored form of Rules: criteria as formatted-string CPE
// names with their bounds and flags, compiled again when loaded.
type RulesJSON struct {
	Source  string       `json:"s"`
	Pending bool         `json:"p,omitempty"`
	Configs []ConfigJSON `json:"c,omitempty"`
}

type ConfigJSON struct {
	Op     string     `json:"o,omitempty"`
	Negate bool       `json:"n,omitempty"`
	Nodes  []NodeJSON `json:"d"`
}

type NodeJSON struct {
	Op       string          `json:"o,omitempty"`
	Negate   bool            `json:"n,omitempty"`
	Criteria []CriterionJSON `json:"c"`
}

type CriterionJSON struct {
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
	out := RulesJSON{Source: r.Source, Pending: r.Pending}
	for _, c := range r.Configs {
		cj := ConfigJSON{Op: c.Operator, Negate: c.Negate}
		for _, n := range c.Nodes {
			nj := NodeJSON{Op: n.Operator, Negate: n.Negate}
			for _, cr := range n.Criteria {
				nj.Criteria = append(nj.Criteria, CriterionJSON{CPE: cr.Name.FormatFS(), ID: cr.ID, Vulnerable: cr.Vulnerable,
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
	var in RulesJSON
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
				cr.Compile(reg)
				n.Criteria = append(n.Criteria, cr)
			}
			c.Nodes = append(c.Nodes, n)
		}
		r.Configs = append(r.Configs, c)
	}
	return r.Prepare(), nil
}

// FixedVersions returns the first fixed releases the rules name: the
// vendor's own fixed_in lists, and the exclusive upper bounds of vulnerable
// ranges (the first version outside the range), in order, without repeats.
func (r *Rules) FixedVersions() []string {
	var fixed Distinct
	add := fixed.Add
	for cr := range r.Vulnerable() {
		for _, f := range cr.FixedIn {
			add(f)
		}
		add(cr.EndExcluding)
	}
	return fixed.List
}

// Distinct collects strings without repeats, in the order first added;
// empty strings are left out. The zero value is empty and ready.
type Distinct struct {
	seen map[string]bool
	// List holds the strings added, nil when none was.
	List []string
}

// Add adds v unless it is empty or was added before.
func (d *Distinct) Add(v string) {
	if v == "" || d.seen[v] {
		return
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[v] = true
	d.List = append(d.List, v)
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
