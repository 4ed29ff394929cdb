package feed

import (
	"encoding/json"
	"strings"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// CompileNVD turns an NVD record's configurations into Rules, choosing
// each criterion's version scheme from reg. A record without
// configurations gives Pending rules.
func CompileNVD(rec *NVDCVE, reg *version.Registry) (*match.Rules, error) {
	r := &match.Rules{Source: "nvd", Pending: len(rec.Configurations) == 0}
	for _, cfg := range rec.Configurations {
		c := match.Config{Operator: strings.ToUpper(cfg.Operator), Negate: cfg.Negate}
		for _, n := range cfg.Nodes {
			node := match.Node{Operator: strings.ToUpper(n.Operator), Negate: n.Negate}
			for _, m := range n.CPEMatch {
				cr, err := match.NewCriterion(reg, m.Criteria, m.Vulnerable, m.VersionStartIncluding,
					m.VersionStartExcluding, m.VersionEndIncluding, m.VersionEndExcluding)
				if err != nil {
					return nil, Reject("vuln.feed.bad_cpe", "nvd", errDetail("%s: %v", rec.ID, err))
				}
				cr.ID = m.MatchCriteriaID
				node.Criteria = append(node.Criteria, cr)
			}
			c.Nodes = append(c.Nodes, node)
		}
		r.Configs = append(r.Configs, c)
	}
	return r.Prepare(), nil
}

// storedRules is rules in their stored form with the facts the store
// indexes.
type StoredRules struct {
	Data    []byte
	Keys    []string
	Wild    bool
	Fixed   []string
	Pending bool
}

// nvdStored turns an NVD record's configurations into the stored form of
// its rules without compiling version bounds (that happens when the rules
// are loaded for matching): CPE names are parsed (those of a withdrawn
// record too), so a record with a bad one rejects the file exactly as
// CompileNVD and validateNVD would.
func nvdStored(rec *NVDCVE) (StoredRules, error) {
	out := match.RulesJSON{Source: "nvd", Pending: len(rec.Configurations) == 0 || rec.Rejected()}
	var st StoredRules
	st.Pending = out.Pending
	if !out.Pending {
		seen := map[string]bool{}
		for _, cfg := range rec.Configurations {
			cj := match.ConfigJSON{Op: strings.ToUpper(cfg.Operator), Negate: cfg.Negate}
			for _, n := range cfg.Nodes {
				nj := match.NodeJSON{Op: strings.ToUpper(n.Operator), Negate: n.Negate, Criteria: make([]match.CriterionJSON, 0, len(n.CPEMatch))}
				for _, m := range n.CPEMatch {
					name, err := match.ParseCPE(m.Criteria)
					if err != nil {
						return st, Reject("vuln.feed.bad_cpe", "nvd", errDetail("%s: %v", rec.ID, err))
					}
					nj.Criteria = append(nj.Criteria, match.CriterionJSON{CPE: m.Criteria, ID: m.MatchCriteriaID, Vulnerable: m.Vulnerable,
						SI: m.VersionStartIncluding, SE: m.VersionStartExcluding, EI: m.VersionEndIncluding, EE: m.VersionEndExcluding})
					if !m.Vulnerable {
						continue
					}
					v, p := name[cpe.Vendor], name[cpe.Product]
					if v.Kind != cpe.Str || p.Kind != cpe.Str || v.HasWildcards() || p.HasWildcards() {
						st.Wild = true
					} else if k := name.Key(); !seen[k] {
						seen[k] = true
						st.Keys = append(st.Keys, k)
					}
					if m.VersionEndExcluding != "" && !seen["\x00"+m.VersionEndExcluding] {
						seen["\x00"+m.VersionEndExcluding] = true
						st.Fixed = append(st.Fixed, m.VersionEndExcluding)
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
	st.Data, err = json.Marshal(out)
	return st, err
}
