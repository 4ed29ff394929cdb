package feed

import (
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

// KEVCatalog is CISA's Known Exploited Vulnerabilities catalogue.
type KEVCatalog struct {
	Title           string     `json:"title"`
	CatalogVersion  string     `json:"catalogVersion"`
	DateReleased    time.Time  `json:"dateReleased"`
	Count           int        `json:"count"`
	Vulnerabilities []KEVEntry `json:"vulnerabilities"`
}

// KEVEntry is one catalogue entry. Dates are "YYYY-MM-DD".
type KEVEntry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse,omitempty"`
	Notes                      string   `json:"notes,omitempty"`
	CWEs                       []string `json:"cwes,omitempty"`
}

// Ransomware reports whether CISA knows the CVE to be used in ransomware
// campaigns.
func (e *KEVEntry) Ransomware() bool { return strings.EqualFold(e.KnownRansomwareCampaignUse, "Known") }

// ParseKEV reads the KEV JSON catalogue and checks it against CISA's
// schema: the four required top-level fields, count equal to the number
// of entries, and in every entry a valid cveID, the required text fields
// and YYYY-MM-DD dates. Any violation rejects the whole file.
func ParseKEV(r io.Reader) (*KEVCatalog, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(r, 64<<20, &raw, "kev"); err != nil {
		return nil, err
	}
	for _, k := range []string{"catalogVersion", "dateReleased", "count", "vulnerabilities"} {
		if _, ok := raw[k]; !ok {
			return nil, Reject("vuln.feed.bad_record", "kev", errMissing(k))
		}
	}
	b, _ := json.Marshal(raw)
	var c KEVCatalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, Reject("vuln.feed.bad_record", "kev", err)
	}
	if c.Count != len(c.Vulnerabilities) {
		return nil, Reject("vuln.feed.bad_count", "kev", errDetail("count %d, entries %d", c.Count, len(c.Vulnerabilities)))
	}
	for i := range c.Vulnerabilities {
		e := &c.Vulnerabilities[i]
		if !cveID.MatchString(e.CVEID) {
			return nil, Reject("vuln.feed.bad_cve_id", "kev", errDetail("entry %d: %q", i+1, clip(e.CVEID)))
		}
		for name, v := range map[string]string{"vendorProject": e.VendorProject, "product": e.Product,
			"vulnerabilityName": e.VulnerabilityName, "shortDescription": e.ShortDescription, "requiredAction": e.RequiredAction} {
			if strings.TrimSpace(v) == "" {
				return nil, Reject("vuln.feed.bad_record", "kev", errDetail("%s: %v", e.CVEID, errMissing(name)))
			}
		}
		for name, v := range map[string]string{"dateAdded": e.DateAdded, "dueDate": e.DueDate} {
			if _, err := time.Parse("2006-01-02", v); err != nil {
				return nil, Reject("vuln.feed.bad_date", "kev", errDetail("%s: %s %q", e.CVEID, name, clip(v)))
			}
		}
		switch e.KnownRansomwareCampaignUse {
		case "", "Known", "Unknown":
		default:
			return nil, Reject("vuln.feed.bad_record", "kev", errDetail("%s: knownRansomwareCampaignUse %q", e.CVEID, clip(e.KnownRansomwareCampaignUse)))
		}
	}
	return &c, nil
}

// KEVRules builds product-only rules from a KEV entry, for CVEs that NVD
// has not analysed yet: every candidate identity that the alias table
// derives from the entry's vendorProject and product becomes a criterion
// that matches the product at any version, at ConfidenceProduct. It
// returns Pending rules when the alias table knows neither name.
func KEVRules(e *KEVEntry, aliases *match.Aliases) *match.Rules {
	r := &match.Rules{Source: "kev"}
	node := match.Node{Operator: "OR"}
	seen := map[string]bool{}
	for _, c := range aliases.Identify(e.VendorProject, e.Product, "", "", "") {
		n := c.Name
		k := n.Text(cpe.Part) + ":" + n.Key()
		if seen[k] {
			continue
		}
		seen[k] = true
		for a := cpe.Version; a < cpe.NumAttributes; a++ {
			n[a] = cpe.AnyValue
		}
		c := &match.Criterion{Raw: n.FormatFS(), Name: n, Vulnerable: true, ProductOnly: true}
		c.Compile(aliases.Registry())
		node.Criteria = append(node.Criteria, c)
	}
	if len(node.Criteria) == 0 {
		r.Pending = true
		return r
	}
	r.Configs = []match.Config{{Nodes: []match.Node{node}}}
	return r.Prepare()
}
