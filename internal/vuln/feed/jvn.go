package feed

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

// JVNEntry is one JVN iPedia entry, from either the JVNRSS overview feed
// or a VULDEF detail document.
type JVNEntry struct {
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Summary    string         `json:"summary,omitempty"`
	URL        string         `json:"url,omitempty"`
	CVEs       []string       `json:"cves,omitempty"`
	CWEs       []string       `json:"cwes,omitempty"`
	Products   []JVNProduct   `json:"products,omitempty"`
	CVSS       []CVSS         `json:"cvss,omitempty"`
	References []JVNReference `json:"references,omitempty"`
	Published  time.Time      `json:"published"`
	Modified   time.Time      `json:"modified"`
	// CVEs are the CVE ids JVN links to, or, when it links none, those
	// named in the title and overview.
	// Withdrawn is set for entries JVN marks 「** 削除 **」, 「** 未確定 **」
	// or 「** サポート外 **」 in the title.
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// JVNProduct is one affected product. CPE is JVN's CPE 2.2 name without a
// version; Versions are JVN's version texts and Ranges what
// ParseJVNVersions read from them (Unparsed holds the rest).
type JVNProduct struct {
	Vendor   string               `json:"vendor"`
	Product  string               `json:"product"`
	CPE      string               `json:"cpe,omitempty"`
	Versions []string             `json:"versions,omitempty"`
	Ranges   []match.VersionRange `json:"ranges,omitempty"`
	Unparsed []string             `json:"unparsed,omitempty"`
}

// JVNReference is a related advisory, CVE, CWE or vendor page.
type JVNReference struct {
	Source string `json:"source,omitempty"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	URL    string `json:"url,omitempty"`
}

var jvnID = regexp.MustCompile(`^JVNDB-\d{4}-\d{6}$`)

type jvnRSSDoc struct {
	XMLName xml.Name     `xml:"RDF"`
	Items   []jvnRSSItem `xml:"item"`
}

type jvnRSSItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	Description string `xml:"description"`
	Identifier  string `xml:"identifier"`
	References  []struct {
		Source string `xml:"source,attr"`
		ID     string `xml:"id,attr"`
		Title  string `xml:"title,attr"`
		URL    string `xml:",chardata"`
	} `xml:"references"`
	CPEs []struct {
		Vendor  string `xml:"vendor,attr"`
		Product string `xml:"product,attr"`
		Name    string `xml:",chardata"`
	} `xml:"cpe"`
	CVSS []struct {
		Version  string `xml:"version,attr"`
		Score    string `xml:"score,attr"`
		Severity string `xml:"severity,attr"`
		Vector   string `xml:"vector,attr"`
	} `xml:"cvss"`
	Date     string `xml:"date"`
	Issued   string `xml:"issued"`
	Modified string `xml:"modified"`
}

// ParseJVNRSS reads a JVNRSS feed (RSS 1.0 with JVN's sec: module, as in
// jvndb_YYYY.rdf and getVulnOverviewList results). The document is read
// with encoding/xml in strict mode (no external entities are ever
// resolved) and at most MaxXMLBytes; an item without a valid JVNDB id
// rejects the whole file.
func ParseJVNRSS(r io.Reader) ([]JVNEntry, error) {
	var doc jvnRSSDoc
	if err := decodeXML(r, &doc, "jvn-rss"); err != nil {
		return nil, err
	}
	out := make([]JVNEntry, 0, len(doc.Items))
	for i, it := range doc.Items {
		e := JVNEntry{ID: strings.TrimSpace(it.Identifier), Title: strings.TrimSpace(it.Title),
			Summary: strings.TrimSpace(it.Description), URL: strings.TrimSpace(it.Link)}
		if !jvnID.MatchString(e.ID) {
			return nil, Reject("vuln.feed.bad_id", "jvn-rss", errDetail("item %d: %q", i+1, clip(e.ID)))
		}
		for _, ref := range it.References {
			e.addRef(strings.TrimSpace(ref.Source), strings.TrimSpace(ref.ID), ref.Title, strings.TrimSpace(ref.URL))
		}
		for _, c := range it.CPEs {
			e.Products = append(e.Products, JVNProduct{Vendor: c.Vendor, Product: c.Product, CPE: strings.TrimSpace(c.Name)})
		}
		for _, c := range it.CVSS {
			score, _ := strconv.ParseFloat(c.Score, 64)
			e.CVSS = append(e.CVSS, CVSS{Version: c.Version, Score: score, Severity: strings.ToUpper(c.Severity), Vector: c.Vector, Source: "jvn"})
		}
		e.Published = jvnTime(it.Issued)
		e.Modified = jvnTime(it.Modified)
		if e.Published.IsZero() {
			e.Published = jvnTime(it.Date)
		}
		if err := e.finish(); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

type vuldefDoc struct {
	XMLName xml.Name `xml:"VULDEF-Document"`
	Vulinfo []struct {
		ID   string `xml:"VulinfoID"`
		Data struct {
			Title    string `xml:"Title"`
			Overview string `xml:"VulinfoDescription>Overview"`
			Affected []struct {
				Name     string   `xml:"Name"`
				Product  string   `xml:"ProductName"`
				CPE      string   `xml:"Cpe"`
				Versions []string `xml:"VersionNumber"`
			} `xml:"Affected>AffectedItem"`
			CVSS []struct {
				Version  string `xml:"version,attr"`
				Severity string `xml:"Severity"`
				Base     string `xml:"Base"`
				Vector   string `xml:"Vector"`
			} `xml:"Impact>Cvss"`
			Related []struct {
				Type  string `xml:"type,attr"`
				Name  string `xml:"Name"`
				ID    string `xml:"VulinfoID"`
				Title string `xml:"Title"`
				URL   string `xml:"URL"`
			} `xml:"Related>RelatedItem"`
			FirstPublished string `xml:"DateFirstPublished"`
			LastUpdated    string `xml:"DateLastUpdated"`
		} `xml:"VulinfoData"`
	} `xml:"Vulinfo"`
}

// ParseJVNDetail reads a MyJVN VULDEF document (jvndb_detail_YYYY.rdf,
// getVulnDetailInfo results): per entry the affected products with their
// Japanese version texts, parsed into ranges by ParseJVNVersions. Same
// safety limits and whole-file rejection as ParseJVNRSS.
func ParseJVNDetail(r io.Reader) ([]JVNEntry, error) {
	var doc vuldefDoc
	if err := decodeXML(r, &doc, "jvn-vuldef"); err != nil {
		return nil, err
	}
	out := make([]JVNEntry, 0, len(doc.Vulinfo))
	for i, v := range doc.Vulinfo {
		d := v.Data
		e := JVNEntry{ID: strings.TrimSpace(v.ID), Title: strings.TrimSpace(d.Title), Summary: strings.TrimSpace(d.Overview)}
		if !jvnID.MatchString(e.ID) {
			return nil, Reject("vuln.feed.bad_id", "jvn-vuldef", errDetail("entry %d: %q", i+1, clip(e.ID)))
		}
		e.URL = "https://jvndb.jvn.jp/ja/contents/" + e.ID[6:10] + "/" + e.ID + ".html"
		for _, a := range d.Affected {
			p := JVNProduct{Vendor: strings.TrimSpace(a.Name), Product: strings.TrimSpace(a.Product), CPE: strings.TrimSpace(a.CPE)}
			for _, vn := range a.Versions {
				vn = strings.TrimSpace(vn)
				if vn == "" {
					continue
				}
				p.Versions = append(p.Versions, vn)
				rs, rest := match.ParseJVNVersions(vn)
				p.Ranges = append(p.Ranges, rs...)
				p.Unparsed = append(p.Unparsed, rest...)
			}
			e.Products = append(e.Products, p)
		}
		for _, c := range d.CVSS {
			score, _ := strconv.ParseFloat(strings.TrimSpace(c.Base), 64)
			e.CVSS = append(e.CVSS, CVSS{Version: c.Version, Score: score, Severity: strings.ToUpper(strings.TrimSpace(c.Severity)),
				Vector: strings.TrimSpace(c.Vector), Source: "jvn"})
		}
		for _, rel := range d.Related {
			src := rel.Name
			if rel.Type == "cwe" {
				src = "CWE"
			}
			e.addRef(src, strings.TrimSpace(rel.ID), rel.Title, strings.TrimSpace(rel.URL))
		}
		e.Published = jvnTime(d.FirstPublished)
		e.Modified = jvnTime(d.LastUpdated)
		if err := e.finish(); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (e *JVNEntry) addRef(source, id, title, url string) {
	if url != "" || source != "" {
		e.References = append(e.References, JVNReference{Source: source, ID: id, Title: title, URL: url})
	}
	switch {
	case cveID.MatchString(id):
		for _, c := range e.CVEs {
			if c == id {
				return
			}
		}
		e.CVEs = append(e.CVEs, id)
	case strings.HasPrefix(id, "CWE-"):
		for _, c := range e.CWEs {
			if c == id {
				return
			}
		}
		e.CWEs = append(e.CWEs, id)
	}
}

var cveInText = regexp.MustCompile(`CVE-\d{4}-\d{4,19}`)

func (e *JVNEntry) finish() error {
	if len(e.CVEs) == 0 {
		for _, id := range cveInText.FindAllString(e.Title+" "+e.Summary, 20) {
			e.addRef("", id, "", "")
		}
	}
	for _, m := range []string{"** 削除 **", "** 未確定 **", "** サポート外 **"} {
		if strings.Contains(e.Title, m) {
			e.Withdrawn = true
		}
	}
	for _, p := range e.Products {
		if p.CPE == "" {
			continue
		}
		if _, err := match.ParseCPE(p.CPE); err != nil {
			return Reject("vuln.feed.bad_cpe", "jvn", errDetail("%s: %v", e.ID, err))
		}
	}
	return nil
}

// Rules compiles the entry's products into rules: each product with a CPE
// and parsed version ranges gives one criterion per range; a product whose
// versions JVN gives only as text (or not at all) gives a ProductOnly
// criterion, matched at ConfidenceProduct.
func (e *JVNEntry) Rules(reg *version.Registry) *match.Rules {
	r := &match.Rules{Source: "jvn"}
	node := match.Node{Operator: "OR"}
	for _, p := range e.Products {
		if p.CPE == "" {
			continue
		}
		name, err := match.ParseCPE(p.CPE)
		if err != nil {
			continue
		}
		name[cpe.Version] = cpe.AnyValue
		raw := name.FormatFS()
		if len(p.Ranges) == 0 || len(p.Unparsed) > 0 {
			c := &match.Criterion{Raw: raw, Name: name, Vulnerable: true, ProductOnly: true}
			c.Compile(reg)
			node.Criteria = append(node.Criteria, c)
		}
		for _, rg := range p.Ranges {
			si, se, ei, ee := rg.Bounds()
			if rg.All {
				si, se, ei, ee = "", "", "", ""
			}
			c := &match.Criterion{Raw: raw, Name: name, Vulnerable: true, StartIncluding: si, StartExcluding: se,
				EndIncluding: ei, EndExcluding: ee, Qualified: rg.Qualifier != ""}
			c.Compile(reg)
			node.Criteria = append(node.Criteria, c)
		}
	}
	if len(node.Criteria) == 0 || e.Withdrawn {
		r.Pending = true
		return r
	}
	r.Configs = []match.Config{{Nodes: []match.Node{node}}}
	return r.Prepare()
}

func jvnTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04-07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// decodeXML decodes one XML document strictly with a size cap. Go's
// decoder never fetches external entities; a DOCTYPE is refused outright
// so that entity declarations cannot smuggle in content.
func decodeXML(r io.Reader, v any, feed string) error {
	r, err := Decompress(r)
	if err != nil {
		return err
	}
	lr := &io.LimitedReader{R: r, N: MaxXMLBytes + 1}
	data, err := io.ReadAll(lr)
	if err != nil {
		return Reject("vuln.feed.not_xml", feed, err)
	}
	if lr.N <= 0 {
		return Reject("vuln.feed.too_large", feed, errDetail("more than %d bytes", MaxXMLBytes))
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
		return Reject("vuln.feed.not_xml", feed, errDetail("DOCTYPE or ENTITY declarations are not accepted"))
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(v); err != nil {
		return Reject("vuln.feed.not_xml", feed, err)
	}
	return nil
}
