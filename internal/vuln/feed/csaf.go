package feed

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// CSAFDocument is the part of a CSAF 2.0 document medisac uses.
type CSAFDocument struct {
	Document        CSAFMeta   `json:"document"`
	ProductTree     *CSAFTree  `json:"product_tree,omitempty"`
	Vulnerabilities []CSAFVuln `json:"vulnerabilities,omitempty"`
	products        map[string]*CSAFProduct
	order           []string
}

// CSAFMeta is the document section.
type CSAFMeta struct {
	Category    string `json:"category"`
	CSAFVersion string `json:"csaf_version"`
	Title       string `json:"title"`
	Lang        string `json:"lang,omitempty"`
	Publisher   struct {
		Category  string `json:"category"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"publisher"`
	Tracking struct {
		ID                 string    `json:"id"`
		Status             string    `json:"status"`
		Version            string    `json:"version"`
		InitialReleaseDate time.Time `json:"initial_release_date"`
		CurrentReleaseDate time.Time `json:"current_release_date"`
		RevisionHistory    []struct {
			Date    time.Time `json:"date"`
			Number  string    `json:"number"`
			Summary string    `json:"summary"`
		} `json:"revision_history"`
	} `json:"tracking"`
	Distribution *struct {
		TLP *struct {
			Label string `json:"label"`
		} `json:"tlp,omitempty"`
	} `json:"distribution,omitempty"`
}

// CSAFTree is the product_tree section.
type CSAFTree struct {
	Branches         []CSAFBranch       `json:"branches,omitempty"`
	FullProductNames []CSAFFullName     `json:"full_product_names,omitempty"`
	Relationships    []CSAFRelationship `json:"relationships,omitempty"`
	ProductGroups    []struct {
		GroupID    string   `json:"group_id"`
		ProductIDs []string `json:"product_ids"`
	} `json:"product_groups,omitempty"`
}

// CSAFBranch is one node of the branch tree.
type CSAFBranch struct {
	Category string        `json:"category"`
	Name     string        `json:"name"`
	Branches []CSAFBranch  `json:"branches,omitempty"`
	Product  *CSAFFullName `json:"product,omitempty"`
}

// CSAFFullName is a full_product_name.
type CSAFFullName struct {
	Name      string `json:"name"`
	ProductID string `json:"product_id"`
	Helper    *struct {
		CPE          string   `json:"cpe,omitempty"`
		PURL         string   `json:"purl,omitempty"`
		ModelNumbers []string `json:"model_numbers,omitempty"`
		SKUs         []string `json:"skus,omitempty"`
	} `json:"product_identification_helper,omitempty"`
}

// CSAFRelationship combines two products into a third.
type CSAFRelationship struct {
	Category                  string       `json:"category"`
	ProductReference          string       `json:"product_reference"`
	RelatesToProductReference string       `json:"relates_to_product_reference"`
	FullProductName           CSAFFullName `json:"full_product_name"`
}

// CSAFVuln is one vulnerabilities entry.
type CSAFVuln struct {
	CVE           string               `json:"cve,omitempty"`
	CWE           *struct{ ID string } `json:"cwe,omitempty"`
	Title         string               `json:"title,omitempty"`
	ProductStatus map[string][]string  `json:"product_status,omitempty"`
	Remediations  []CSAFRemediation    `json:"remediations,omitempty"`
	Scores        []struct {
		CVSSv3   *CVSSRaw `json:"cvss_v3,omitempty"`
		CVSSv2   *CVSSRaw `json:"cvss_v2,omitempty"`
		Products []string `json:"products"`
	} `json:"scores,omitempty"`
}

// CSAFRemediation is one remediation.
type CSAFRemediation struct {
	Category   string   `json:"category"`
	Details    string   `json:"details"`
	ProductIDs []string `json:"product_ids,omitempty"`
	GroupIDs   []string `json:"group_ids,omitempty"`
	URL        string   `json:"url,omitempty"`
}

// CSAFProduct is a full product name resolved from the branch path:
// vendor, product name, family, version or version range, model numbers.
type CSAFProduct struct {
	ID           string               `json:"id"`
	Name         string               `json:"name"`
	Vendor       string               `json:"vendor,omitempty"`
	Product      string               `json:"product,omitempty"`
	Family       string               `json:"family,omitempty"`
	Version      string               `json:"version,omitempty"`
	VersionRange string               `json:"version_range,omitempty"`
	Ranges       []match.VersionRange `json:"ranges,omitempty"`
	// RangeUnreadable is set when the version range is free text medisac
	// cannot read (matches are then 「要確認」).
	RangeUnreadable bool     `json:"range_unreadable,omitempty"`
	ModelNumbers    []string `json:"model_numbers,omitempty"`
	CPE             string   `json:"cpe,omitempty"`
	PURL            string   `json:"purl,omitempty"`
}

var (
	csafCategories  = map[string]bool{"csaf_base": true, "csaf_security_advisory": true, "csaf_vex": true, "csaf_informational_advisory": true, "csaf_security_incident_response": true}
	csafPublisher   = map[string]bool{"coordinator": true, "discoverer": true, "other": true, "translator": true, "user": true, "vendor": true}
	csafStatus      = map[string]bool{"draft": true, "final": true, "interim": true}
	csafBranchCats  = map[string]bool{"architecture": true, "host_name": true, "language": true, "legacy": true, "patch_level": true, "product_family": true, "product_name": true, "product_version": true, "product_version_range": true, "service_pack": true, "specification": true, "vendor": true}
	csafStatusLists = map[string]bool{"first_affected": true, "first_fixed": true, "fixed": true, "known_affected": true, "known_not_affected": true, "last_affected": true, "recommended": true, "under_investigation": true}
	csafRelCats     = map[string]bool{"default_component_of": true, "external_component_of": true, "installed_on": true, "installed_with": true, "optional_component_of": true}
)

// ParseCSAF reads and validates a CSAF 2.0 document: the required
// document fields (category, csaf_version "2.0", publisher with a valid
// category, title, tracking with id, a valid status, version, both release
// dates and a revision history), valid branch and relationship categories,
// unique product ids, every product id used in product_status, scores and
// remediations defined in the product tree, and valid CVE ids. Any
// violation rejects the document (key vuln.feed.csaf_invalid with the
// failed rule as detail).
func ParseCSAF(r io.Reader) (*CSAFDocument, error) {
	var d CSAFDocument
	if err := decodeJSON(r, 64<<20, &d, "csaf"); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, Reject("vuln.feed.csaf_invalid", "csaf", err)
	}
	return &d, nil
}

func (d *CSAFDocument) validate() error {
	m := &d.Document
	switch {
	case strings.TrimSpace(m.Category) == "":
		return errMissing("document.category")
	case strings.HasPrefix(m.Category, "csaf_") && !csafCategories[m.Category]:
		return errDetail("document.category %q is reserved but not defined", clip(m.Category))
	case m.CSAFVersion != "2.0":
		return errDetail("document.csaf_version must be \"2.0\", not %q", clip(m.CSAFVersion))
	case strings.TrimSpace(m.Title) == "":
		return errMissing("document.title")
	case strings.TrimSpace(m.Publisher.Name) == "":
		return errMissing("document.publisher.name")
	case strings.TrimSpace(m.Publisher.Namespace) == "":
		return errMissing("document.publisher.namespace")
	case !csafPublisher[m.Publisher.Category]:
		return errDetail("document.publisher.category %q is not allowed", clip(m.Publisher.Category))
	case strings.TrimSpace(m.Tracking.ID) == "":
		return errMissing("document.tracking.id")
	case !csafStatus[m.Tracking.Status]:
		return errDetail("document.tracking.status %q is not allowed", clip(m.Tracking.Status))
	case strings.TrimSpace(m.Tracking.Version) == "":
		return errMissing("document.tracking.version")
	case m.Tracking.InitialReleaseDate.IsZero():
		return errMissing("document.tracking.initial_release_date")
	case m.Tracking.CurrentReleaseDate.IsZero():
		return errMissing("document.tracking.current_release_date")
	case len(m.Tracking.RevisionHistory) == 0:
		return errMissing("document.tracking.revision_history")
	}
	d.products = map[string]*CSAFProduct{}
	groups := map[string]bool{}
	if t := d.ProductTree; t != nil {
		for _, b := range t.Branches {
			if err := d.walk(b, CSAFProduct{}, 0); err != nil {
				return err
			}
		}
		for _, f := range t.FullProductNames {
			if err := d.define(f, CSAFProduct{}); err != nil {
				return err
			}
		}
		for _, rel := range t.Relationships {
			if !csafRelCats[rel.Category] {
				return errDetail("relationship category %q is not allowed", clip(rel.Category))
			}
			base := CSAFProduct{}
			if p := d.products[rel.ProductReference]; p != nil {
				base = *p
			}
			if err := d.define(rel.FullProductName, base); err != nil {
				return err
			}
		}
		for _, g := range t.ProductGroups {
			groups[g.GroupID] = true
		}
		for _, rel := range t.Relationships {
			for _, id := range []string{rel.ProductReference, rel.RelatesToProductReference} {
				if d.products[id] == nil {
					return errDetail("relationship refers to undefined product %q", clip(id))
				}
			}
		}
		for _, g := range t.ProductGroups {
			for _, id := range g.ProductIDs {
				if d.products[id] == nil {
					return errDetail("group %q refers to undefined product %q", clip(g.GroupID), clip(id))
				}
			}
		}
	}
	for i, v := range d.Vulnerabilities {
		if v.CVE != "" && !cveID.MatchString(v.CVE) {
			return errDetail("vulnerabilities[%d].cve %q", i, clip(v.CVE))
		}
		for list, ids := range v.ProductStatus {
			if !csafStatusLists[list] {
				return errDetail("vulnerabilities[%d].product_status.%s is not a status", i, clip(list))
			}
			for _, id := range ids {
				if d.products[id] == nil {
					return errDetail("vulnerabilities[%d].product_status.%s refers to undefined product %q", i, list, clip(id))
				}
			}
		}
		for _, rm := range v.Remediations {
			if rm.Category == "" {
				return errDetail("vulnerabilities[%d].remediations: %v", i, errMissing("category"))
			}
			for _, id := range rm.ProductIDs {
				if d.products[id] == nil {
					return errDetail("vulnerabilities[%d].remediations refer to undefined product %q", i, clip(id))
				}
			}
			for _, g := range rm.GroupIDs {
				if !groups[g] {
					return errDetail("vulnerabilities[%d].remediations refer to undefined group %q", i, clip(g))
				}
			}
		}
		for _, s := range v.Scores {
			for _, id := range s.Products {
				if d.products[id] == nil {
					return errDetail("vulnerabilities[%d].scores refer to undefined product %q", i, clip(id))
				}
			}
		}
	}
	return nil
}

func (d *CSAFDocument) walk(b CSAFBranch, path CSAFProduct, depth int) error {
	if depth > 30 {
		return errDetail("product tree deeper than 30 levels")
	}
	if !csafBranchCats[b.Category] {
		return errDetail("branch category %q is not allowed", clip(b.Category))
	}
	switch b.Category {
	case "vendor":
		path.Vendor = b.Name
	case "product_name":
		path.Product = b.Name
	case "product_family":
		if path.Family == "" {
			path.Family = b.Name
		} else {
			path.Family += " " + b.Name
		}
	case "product_version":
		path.Version = b.Name
	case "product_version_range":
		path.VersionRange = b.Name
	}
	if b.Product != nil {
		if err := d.define(*b.Product, path); err != nil {
			return err
		}
	}
	for _, c := range b.Branches {
		if err := d.walk(c, path, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (d *CSAFDocument) define(f CSAFFullName, base CSAFProduct) error {
	if strings.TrimSpace(f.ProductID) == "" {
		return errMissing("product_id")
	}
	if strings.TrimSpace(f.Name) == "" {
		return errDetail("product %q: %v", clip(f.ProductID), errMissing("name"))
	}
	if d.products[f.ProductID] != nil {
		return errDetail("product id %q is defined twice", clip(f.ProductID))
	}
	p := base
	p.ID, p.Name = f.ProductID, f.Name
	if p.Product == "" && p.Family != "" {
		p.Product = p.Family
	}
	if f.Helper != nil {
		p.CPE, p.PURL = f.Helper.CPE, f.Helper.PURL
		p.ModelNumbers = f.Helper.ModelNumbers
	}
	p.Ranges, p.RangeUnreadable = csafRanges(p.Version, p.VersionRange)
	d.products[f.ProductID] = &p
	d.order = append(d.order, f.ProductID)
	return nil
}

// Products returns every product of the tree in document order.
func (d *CSAFDocument) Products() []*CSAFProduct {
	out := make([]*CSAFProduct, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.products[id])
	}
	return out
}

// Product returns the product with that id, or nil.
func (d *CSAFDocument) Product(id string) *CSAFProduct { return d.products[id] }

// Status returns the product_status list ("known_affected", "fixed",
// "known_not_affected", "under_investigation", …) naming the product in
// vulnerability i, or "" when none does.
func (d *CSAFDocument) Status(i int, productID string) string {
	for _, list := range []string{"known_affected", "first_affected", "last_affected", "fixed", "first_fixed",
		"known_not_affected", "under_investigation", "recommended"} {
		for _, id := range d.Vulnerabilities[i].ProductStatus[list] {
			if id == productID {
				return list
			}
		}
	}
	return ""
}

var fixedVersionRe = regexp.MustCompile(`(?i)(?:version|ver\.?|v|fixed in|update to|upgrade to)\s*[:]?\s*(?:[a-z][\w-]*\s+)?v?(\d+(?:\.[0-9a-z]+)+)`)

// FixedVersions returns the versions that fix vulnerability i for a
// product: versions of products listed as fixed or first_fixed with the
// same vendor and product name, and version numbers named in the vendor_fix
// remediations for the product.
func (d *CSAFDocument) FixedVersions(i int, productID string) []string {
	p := d.products[productID]
	if p == nil {
		return nil
	}
	var fixed match.Distinct
	add := fixed.Add
	v := d.Vulnerabilities[i]
	for _, list := range []string{"fixed", "first_fixed"} {
		for _, id := range v.ProductStatus[list] {
			if q := d.products[id]; q != nil && match.NameKey(q.Vendor) == match.NameKey(p.Vendor) && match.NameKey(q.Product) == match.NameKey(p.Product) {
				add(q.Version)
			}
		}
	}
	for _, rm := range v.Remediations {
		if rm.Category != "vendor_fix" {
			continue
		}
		for _, id := range rm.ProductIDs {
			if id != productID {
				continue
			}
			for _, m := range fixedVersionRe.FindAllStringSubmatch(rm.Details, -1) {
				add(m[1])
			}
		}
	}
	return fixed.List
}

var (
	versLike  = regexp.MustCompile(`^\s*(<=|>=|<|>|=)?\s*[vV]?(\d[0-9A-Za-z.\-_]*)\s*$`)
	xFamilyRe = regexp.MustCompile(`^[vV]?(\d+(?:\.\d+)*)\.[xX](?:\.[xX])*$`)
)

// csafRanges reads a product_version or product_version_range: canonical
// vers ("vers:generic/>=1.0|<2.0", "vers:all/*"), the vers-like forms
// CISA writes ("<= 9.33", "<V3.0.29", ">= 2003 | <= 2006"), "all
// versions", and "2.X" families. Anything else is unreadable.
func csafRanges(ver, rng string) ([]match.VersionRange, bool) {
	if ver != "" {
		v := strings.TrimSpace(ver)
		switch {
		case strings.HasPrefix(v, "vers:"):
			return csafRanges("", v)
		case xFamilyRe.MatchString(v):
			m := xFamilyRe.FindStringSubmatch(v)
			return []match.VersionRange{{Start: m[1], StartIncl: true, End: bumpLast(m[1]), Text: v}}, false
		case versLike.MatchString(v) && !strings.ContainsAny(v, "<>="):
			return []match.VersionRange{{Exact: strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V"), Text: v}}, false
		}
		return nil, true
	}
	s := strings.TrimSpace(rng)
	if s == "" {
		return nil, false
	}
	l := strings.ToLower(s)
	if l == "vers:all/*" || l == "all versions" || l == "all" || strings.HasSuffix(l, "/*") {
		return []match.VersionRange{{All: true, Text: s}}, false
	}
	if strings.HasPrefix(l, "vers:") {
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
	}
	r := match.VersionRange{Text: strings.TrimSpace(rng)}
	var exact []match.VersionRange
	for _, c := range strings.Split(s, "|") {
		m := versLike.FindStringSubmatch(c)
		if m == nil {
			return nil, true
		}
		switch m[1] {
		case "<":
			r.End, r.EndIncl = m[2], false
		case "<=":
			r.End, r.EndIncl = m[2], true
		case ">":
			r.Start, r.StartIncl = m[2], false
		case ">=":
			r.Start, r.StartIncl = m[2], true
		default:
			exact = append(exact, match.VersionRange{Exact: m[2], Text: r.Text})
		}
	}
	if r.Start == "" && r.End == "" {
		return exact, len(exact) == 0
	}
	return append(exact, r), false
}

func bumpLast(v string) string {
	parts := strings.Split(v, ".")
	n, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		return v
	}
	parts[len(parts)-1] = strconv.Itoa(n + 1)
	return strings.Join(parts, ".")
}

// CSAFMatch is the answer for one asset against one CSAF vulnerability.
type CSAFMatch struct {
	ProductID  string
	Status     string
	Confidence match.Confidence
	Reason     match.Reason
	Fixed      []string
}

// MatchAsset matches an asset, given by vendor, product, model and version
// as the inventory holds them, against vulnerability i: products whose
// normalised vendor agrees (through the alias table when it knows the
// vendor) and whose product name or model numbers agree, and whose status
// is known_affected, first_affected, last_affected or under_investigation.
// A version inside a readable range is exact; an unknown version or an
// unreadable range gives ConfidenceProduct. Products listed as fixed or
// not affected for that version remove the match.
func (d *CSAFDocument) MatchAsset(i int, aliases *match.Aliases, reg *version.Registry, vendor, product, model, ver string) []CSAFMatch {
	var out []CSAFMatch
	vk := aliases.VendorKey(vendor)
	pk, mk := match.NameKey(product), match.NameKey(model)
	sch := reg.For(vk, match.CPEWord(product))
	notAffected := false
	for _, p := range d.Products() {
		pv := aliases.VendorKey(p.Vendor)
		if pv != vk || vk == "" {
			continue
		}
		if !csafProductMatches(p, pk, mk) {
			continue
		}
		st := d.Status(i, p.ID)
		in, conf, reason := match.InRanges(p.Ranges, p.RangeUnreadable, sch, ver)
		switch st {
		case "fixed", "first_fixed", "known_not_affected":
			if in == match.Yes {
				notAffected = true
			}
			continue
		case "known_affected", "first_affected", "last_affected", "under_investigation":
		default:
			continue
		}
		if in == match.No {
			continue
		}
		if st == "under_investigation" {
			conf, reason = match.ConfidenceProduct, match.ReasonNoVersionData
		}
		out = append(out, CSAFMatch{ProductID: p.ID, Status: st, Confidence: conf, Reason: reason, Fixed: d.FixedVersions(i, p.ID)})
	}
	if notAffected {
		return nil
	}
	return out
}

func csafProductMatches(p *CSAFProduct, pk, mk string) bool {
	names := []string{match.NameKey(p.Product), match.NameKey(p.Family)}
	for _, n := range names {
		if n == "" {
			continue
		}
		if n == pk || (pk != "" && (strings.Contains(pk, n) || strings.Contains(n, pk))) {
			return true
		}
		if mk != "" && (n == mk || strings.Contains(n, mk)) {
			return true
		}
	}
	for _, m := range p.ModelNumbers {
		k := match.NameKey(strings.ReplaceAll(m, "*", ""))
		if k == "" {
			continue
		}
		if (mk != "" && strings.HasPrefix(mk, k)) || (pk != "" && strings.HasPrefix(pk, k)) {
			return true
		}
	}
	return false
}
