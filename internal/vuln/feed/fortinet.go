package feed

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// FortinetAdvisory is one FortiGuard PSIRT advisory in the vendor-advisory
// JSON shape medisac imports (one advisory per file, product ranges as CPE
// names with ge/gt/le/lt/eq bounds).
type FortinetAdvisory struct {
	ID              string              `json:"id"`
	Title           string              `json:"title"`
	Summary         string              `json:"summary,omitempty"`
	Description     string              `json:"description,omitempty"`
	Published       time.Time           `json:"published"`
	Updated         time.Time           `json:"updated"`
	AdvisoryURL     string              `json:"advisory_url"`
	References      []FortinetReference `json:"references,omitempty"`
	Vulnerabilities []FortinetVuln      `json:"vulnerabilities"`
}

// FortinetReference is a link of an advisory.
type FortinetReference struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

// FortinetVuln is one vulnerability of an advisory; CVE may be empty.
type FortinetVuln struct {
	ID          string               `json:"id"`
	CVE         string               `json:"cve,omitempty"`
	Definitions []FortinetDefinition `json:"definitions"`
}

// FortinetDefinition carries the product configurations and scores.
type FortinetDefinition struct {
	Configurations []FortinetConfig `json:"configurations"`
	CVSSv3         *struct {
		BaseScore float64 `json:"base_score"`
		Vector    string  `json:"vector"`
	} `json:"cvssv3,omitempty"`
	CWE           []string `json:"cwe,omitempty"`
	Impact        string   `json:"impact,omitempty"`
	ExploitStatus string   `json:"exploit_status,omitempty"`
}

// FortinetConfig is a list of alternative product nodes, AND-ed with the
// nodes of Children (a platform condition), recursively.
type FortinetConfig struct {
	Nodes    []FortinetNode  `json:"nodes,omitempty"`
	Children *FortinetConfig `json:"children,omitempty"`
}

// FortinetNode is one product range: a CPE with version "*" and bounds.
type FortinetNode struct {
	Description string            `json:"description"`
	CPE         string            `json:"cpe"`
	Affected    map[string]string `json:"affected"`
	FixedIn     []string          `json:"fixed_in,omitempty"`
}

var fortinetIDRe = regexp.MustCompile(`^FG-IR-\d{2,3}-\d{3,}$`)

// ParseFortinet reads one advisory. It rejects the file (key
// vuln.feed.*) when it is not JSON of this shape, has no valid FG-IR id,
// names a malformed CVE id, or holds a CPE name that does not parse.
func ParseFortinet(r io.Reader) (*FortinetAdvisory, error) {
	var a FortinetAdvisory
	if err := decodeJSON(r, 16<<20, &a, "fortinet"); err != nil {
		return nil, err
	}
	if !fortinetIDRe.MatchString(a.ID) {
		return nil, Reject("vuln.feed.bad_id", "fortinet", errDetail("id %q", clip(a.ID)))
	}
	if a.Vulnerabilities == nil {
		return nil, Reject("vuln.feed.bad_record", "fortinet", errMissing("vulnerabilities"))
	}
	for _, v := range a.Vulnerabilities {
		if v.CVE != "" && len(v.CVEIDs()) == 0 {
			return nil, Reject("vuln.feed.bad_cve_id", "fortinet", errDetail("%s: %q", a.ID, clip(v.CVE)))
		}
		for _, d := range v.Definitions {
			for i := range d.Configurations {
				for c := &d.Configurations[i]; c != nil; c = c.Children {
					for _, n := range c.Nodes {
						if _, err := match.ParseCPE(n.CPE); err != nil {
							return nil, Reject("vuln.feed.bad_cpe", "fortinet", errDetail("%s: %v", a.ID, err))
						}
					}
				}
			}
		}
	}
	return &a, nil
}

var cveRangeRe = regexp.MustCompile(`^CVE-(\d{4})-(\d{4,7})\s+to\s+(?:CVE-)?(\d{4})-(\d{4,7})$`)

// CVEIDs returns the CVE ids of the vulnerability: its cve field, or the
// ids of a range written "CVE-2020-11896 to 2020-11914" (at most 100).
// It returns nil when the field holds neither.
func (v *FortinetVuln) CVEIDs() []string {
	c := strings.TrimSpace(v.CVE)
	if cveID.MatchString(c) {
		return []string{c}
	}
	m := cveRangeRe.FindStringSubmatch(c)
	if m == nil || m[1] != m[3] {
		return nil
	}
	lo, _ := strconv.Atoi(m[2])
	hi, _ := strconv.Atoi(m[4])
	if hi < lo || hi-lo >= 100 {
		return nil
	}
	var out []string
	for n := lo; n <= hi; n++ {
		id := fmt.Sprintf("CVE-%s-%04d", m[1], n)
		out = append(out, id)
	}
	return out
}

// Rules compiles the advisory into Rules per vulnerability, keyed by CVE
// id (or by the advisory's own id when there is no CVE). Each
// configuration's nodes are alternatives (vulnerable); its children are
// platform conditions AND-ed to them. Bounds ge/gt/le/lt become the four
// NVD bounds, eq a fixed version; a node whose bounds are all empty names
// the product without versions (ProductOnly). The part of vulnerable
// nodes is made ANY, as the feed writes the same product as "a" in one
// advisory and "o" in the next (FortiOS in FG-IR-22-377). A hardware product ending in
// "-" ("fortiwlc-", Fortinet's placeholder for any model) matches every
// model of the family.
func (a *FortinetAdvisory) Rules(reg *version.Registry) map[string]*match.Rules {
	out := map[string]*match.Rules{}
	for _, v := range a.Vulnerabilities {
		keys := v.CVEIDs()
		if len(keys) == 0 {
			keys = []string{v.ID}
			if v.ID == "" {
				keys = []string{a.ID}
			}
		}
		r := out[keys[0]]
		if r == nil {
			r = &match.Rules{Source: "fortinet"}
			for _, k := range keys {
				out[k] = r
			}
		}
		for _, d := range v.Definitions {
			for i := range d.Configurations {
				cfg := match.Config{Operator: "AND"}
				vulnerable := true
				for c := &d.Configurations[i]; c != nil; c = c.Children {
					node := match.Node{Operator: "OR"}
					for _, n := range c.Nodes {
						if cr := fortinetCriterion(reg, n, vulnerable); cr != nil {
							node.Criteria = append(node.Criteria, cr)
						}
					}
					if len(node.Criteria) > 0 {
						cfg.Nodes = append(cfg.Nodes, node)
					}
					vulnerable = false
				}
				if len(cfg.Nodes) > 0 {
					r.Configs = append(r.Configs, cfg)
				}
			}
		}
		r.Pending = len(r.Configs) == 0
		r.Prepare()
	}
	return out
}

func fortinetCriterion(reg *version.Registry, n FortinetNode, vulnerable bool) *match.Criterion {
	name, err := match.ParseCPE(n.CPE)
	if err != nil {
		return nil
	}
	if vulnerable {
		name[cpe.Part] = cpe.AnyValue
	}
	if p := name[cpe.Product]; p.Kind == cpe.Str && strings.HasSuffix(p.V, `\-`) && !p.HasWildcards() {
		name[cpe.Product] = cpe.Value{Kind: cpe.Str, V: p.V + "*"}
	}
	b := map[string]string{}
	empty := true
	for k, v := range n.Affected {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		empty = false
		if strings.EqualFold(v, "ANY") {
			continue
		}
		b[strings.ToLower(k)] = v
	}
	if eq, ok := b["eq"]; ok {
		name[cpe.Version] = cpe.StrValue(eq)
		if strings.EqualFold(eq, "NA") {
			name[cpe.Version] = cpe.NAValue
		}
	}
	c := &match.Criterion{Raw: name.FormatFS(), Name: name, Vulnerable: vulnerable, StartIncluding: b["ge"],
		StartExcluding: b["gt"], EndIncluding: b["le"], EndExcluding: b["lt"], FixedIn: n.FixedIn,
		ProductOnly: empty && vulnerable}
	c.Compile(reg)
	return c
}

// CVEs returns the CVE ids the advisory names.
func (a *FortinetAdvisory) CVEs() []string {
	var out []string
	for i := range a.Vulnerabilities {
		out = append(out, a.Vulnerabilities[i].CVEIDs()...)
	}
	return out
}
