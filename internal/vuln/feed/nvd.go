package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/medisac/medisac/internal/vuln/match"
	"io"
	"strings"
	"time"
)

// NVDCVE is one CVE record of the NVD CVE API 2.0 (the value of
// vulnerabilities[i].cve). Fields NVD adds later are ignored.
type NVDCVE struct {
	ID                    string             `json:"id"`
	SourceIdentifier      string             `json:"sourceIdentifier"`
	VulnStatus            string             `json:"vulnStatus"`
	Published             NVDTime            `json:"published"`
	LastModified          NVDTime            `json:"lastModified"`
	CISAExploitAdd        string             `json:"cisaExploitAdd,omitempty"`
	CISAActionDue         string             `json:"cisaActionDue,omitempty"`
	CISARequiredAction    string             `json:"cisaRequiredAction,omitempty"`
	CISAVulnerabilityName string             `json:"cisaVulnerabilityName,omitempty"`
	Descriptions          []LangString       `json:"descriptions"`
	Metrics               NVDMetrics         `json:"metrics"`
	Weaknesses            []NVDWeakness      `json:"weaknesses,omitempty"`
	Configurations        []NVDConfiguration `json:"configurations,omitempty"`
	References            []NVDReference     `json:"references,omitempty"`
}

// LangString is a text with its language tag.
type LangString struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

// NVDTime is NVD's timestamp: UTC without a zone ("2024-04-12T08:15:06.230").
type NVDTime struct{ time.Time }

// UnmarshalJSON accepts NVD's zoneless layout and RFC 3339.
func (t *NVDTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not a time", clip(s))
}

// MarshalJSON writes NVD's layout.
func (t NVDTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05.000"))
}

// NVDMetrics holds the CVSS metrics by version.
type NVDMetrics struct {
	V2  []NVDMetric `json:"cvssMetricV2,omitempty"`
	V30 []NVDMetric `json:"cvssMetricV30,omitempty"`
	V31 []NVDMetric `json:"cvssMetricV31,omitempty"`
	V40 []NVDMetric `json:"cvssMetricV40,omitempty"`
}

// NVDMetric is one CVSS metric entry; CVSS v2 keeps baseSeverity outside
// cvssData, later versions inside.
type NVDMetric struct {
	Source       string  `json:"source"`
	Type         string  `json:"type"`
	CVSSData     CVSSRaw `json:"cvssData"`
	BaseSeverity string  `json:"baseSeverity,omitempty"`
}

// CVSSRaw is the part of cvssData medisac keeps.
type CVSSRaw struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
	BaseSeverity string  `json:"baseSeverity,omitempty"`
}

// NVDWeakness is one weaknesses entry (CWE ids in Description).
type NVDWeakness struct {
	Source      string       `json:"source"`
	Type        string       `json:"type"`
	Description []LangString `json:"description"`
}

// NVDReference is one reference.
type NVDReference struct {
	URL    string   `json:"url"`
	Source string   `json:"source,omitempty"`
	Tags   []string `json:"tags,omitempty"`
}

// NVDConfiguration is one applicability statement: its nodes joined by
// Operator (OR when empty), optionally negated. The configurations of a
// CVE are alternatives.
type NVDConfiguration struct {
	Operator string    `json:"operator,omitempty"`
	Negate   bool      `json:"negate,omitempty"`
	Nodes    []NVDNode `json:"nodes"`
}

// NVDNode is a list of match criteria joined by Operator, optionally negated.
type NVDNode struct {
	Operator string        `json:"operator"`
	Negate   bool          `json:"negate,omitempty"`
	CPEMatch []NVDCPEMatch `json:"cpeMatch"`
}

// NVDCPEMatch is one match criterion. Vulnerable false marks a platform
// the vulnerable product must run on (or with), not an affected product.
type NVDCPEMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	MatchCriteriaID       string `json:"matchCriteriaId,omitempty"`
	VersionStartIncluding string `json:"versionStartIncluding,omitempty"`
	VersionStartExcluding string `json:"versionStartExcluding,omitempty"`
	VersionEndIncluding   string `json:"versionEndIncluding,omitempty"`
	VersionEndExcluding   string `json:"versionEndExcluding,omitempty"`
}

// CVSS is one extracted CVSS score.
type CVSS struct {
	Version  string  `json:"version"`
	Score    float64 `json:"score"`
	Severity string  `json:"severity"`
	Vector   string  `json:"vector"`
	Source   string  `json:"source"`
	Primary  bool    `json:"primary"`
}

// Rejected reports whether NVD has rejected (withdrawn) the CVE.
func (c *NVDCVE) Rejected() bool {
	return strings.EqualFold(c.VulnStatus, "Rejected") || strings.HasPrefix(c.Description("en"), "** REJECT **")
}

// Description returns the description in lang, else the first one, else "".
func (c *NVDCVE) Description(lang string) string {
	for _, d := range c.Descriptions {
		if strings.EqualFold(d.Lang, lang) {
			return d.Value
		}
	}
	if len(c.Descriptions) > 0 {
		return c.Descriptions[0].Value
	}
	return ""
}

// CVSS returns every CVSS score of the record, newest CVSS version first
// and, within a version, the Primary (NVD's own) score first.
func (c *NVDCVE) CVSS() []CVSS {
	var out []CVSS
	add := func(ms []NVDMetric) {
		start := len(out)
		for _, m := range ms {
			sev := m.CVSSData.BaseSeverity
			if sev == "" {
				sev = m.BaseSeverity
			}
			out = append(out, CVSS{Version: m.CVSSData.Version, Score: m.CVSSData.BaseScore,
				Severity: strings.ToUpper(sev), Vector: m.CVSSData.VectorString, Source: m.Source,
				Primary: strings.EqualFold(m.Type, "Primary")})
		}
		part := out[start:]
		for i := 1; i < len(part); i++ {
			for j := i; j > 0 && part[j].Primary && !part[j-1].Primary; j-- {
				part[j], part[j-1] = part[j-1], part[j]
			}
		}
	}
	add(c.Metrics.V40)
	add(c.Metrics.V31)
	add(c.Metrics.V30)
	add(c.Metrics.V2)
	return out
}

// BestCVSS returns the first of CVSS() whose version is 3.x or 4.0 (then
// any), and false when the record has no score.
func (c *NVDCVE) BestCVSS() (CVSS, bool) {
	all := c.CVSS()
	for _, s := range all {
		if strings.HasPrefix(s.Version, "3") {
			return s, true
		}
	}
	if len(all) > 0 {
		return all[0], true
	}
	return CVSS{}, false
}

// CWEs returns the distinct CWE ids of the record ("CWE-79"), leaving out
// NVD's placeholders (NVD-CWE-Other, NVD-CWE-noinfo).
func (c *NVDCVE) CWEs() []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range c.Weaknesses {
		for _, d := range w.Description {
			if strings.HasPrefix(d.Value, "CWE-") && !seen[d.Value] {
				seen[d.Value] = true
				out = append(out, d.Value)
			}
		}
	}
	return out
}

// NVDPage is an NVD CVE API 2.0 response page, also the shape of NVD's
// yearly and recent feed files.
type NVDPage struct {
	ResultsPerPage  int    `json:"resultsPerPage"`
	StartIndex      int    `json:"startIndex"`
	TotalResults    int    `json:"totalResults"`
	Format          string `json:"format"`
	Version         string `json:"version"`
	Timestamp       string `json:"timestamp"`
	Vulnerabilities []struct {
		CVE NVDCVE `json:"cve"`
	} `json:"vulnerabilities"`
}

// ParseNVD reads NVD JSON in any of its shapes: a single CVE record, an API
// response page or NVD's own 2.0 feed file ({"vulnerabilities":[{"cve":…}]}),
// a community yearly/recent feed file ({"cve_count":n,"cve_items":[…]},
// as published with .json.xz), or a JSON array of records. Input may be gzip- or xz-compressed. The whole input is
// rejected (an *apperr.Error with key vuln.feed.*) if it is not NVD JSON or
// any record lacks a valid CVE id.
func ParseNVD(r io.Reader) ([]NVDCVE, error) {
	var out []NVDCVE
	err := EachNVD(r, func(c *NVDCVE) error {
		out = append(out, *c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachNVD is ParseNVD that streams: it calls fn for each record as it is
// decoded, so feed files of any size use little memory. A record that
// fails validation stops the walk with an error; records already passed to
// fn must then be discarded by the caller, as the file is bad as a whole.
func EachNVD(r io.Reader, fn func(*NVDCVE) error) error {
	return walkNVD(r, &seqNVD{fn: fn})
}

// nvdSink takes the records walkNVD finds.
type nvdSink interface {
	// record decodes the record at dec's position (wrapped: {"cve": …}).
	record(dec *json.Decoder, wrapped bool) error
	// single takes a file that is one record.
	single(c *NVDCVE) error
	// finish waits for every record taken and returns the first error in
	// file order.
	finish() error
	// count is the number of records taken.
	count() int
}

// seqNVD decodes and validates records one after another.
type seqNVD struct {
	fn func(*NVDCVE) error
	n  int
}

func (s *seqNVD) record(dec *json.Decoder, wrapped bool) error {
	var c *NVDCVE
	if wrapped {
		var item struct {
			CVE *NVDCVE `json:"cve"`
		}
		if err := dec.Decode(&item); err != nil {
			return Reject("vuln.feed.bad_record", "nvd", err)
		}
		if item.CVE == nil {
			return Reject("vuln.feed.bad_record", "nvd", errMissing("cve"))
		}
		c = item.CVE
	} else {
		c = new(NVDCVE)
		if err := dec.Decode(c); err != nil {
			return Reject("vuln.feed.bad_record", "nvd", err)
		}
	}
	return s.single(c)
}

func (s *seqNVD) single(c *NVDCVE) error {
	s.n++
	if err := validateNVD(c, s.n); err != nil {
		return err
	}
	return s.fn(c)
}

func (s *seqNVD) finish() error { return nil }
func (s *seqNVD) count() int    { return s.n }

// walkNVD finds the records of NVD JSON in any of ParseNVD's shapes and
// hands them to sink.
func walkNVD(r io.Reader, sink nvdSink) error {
	err := walkNVDRecords(r, sink)
	if ferr := sink.finish(); ferr != nil {
		// A record before the point where the walk stopped failed first.
		return ferr
	}
	return err
}

func walkNVDRecords(r io.Reader, sink nvdSink) error {
	r, err := Decompress(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(io.LimitReader(r, MaxFeedBytes))
	tok, err := dec.Token()
	if err != nil {
		return Reject("vuln.feed.not_json", "nvd", err)
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			if err := sink.record(dec, false); err != nil {
				return err
			}
		}
		return nil
	case json.Delim('{'):
	default:
		return Reject("vuln.feed.not_json", "nvd", nil)
	}
	single := NVDCVE{}
	sawID, sawVulns := false, false
	declared := -1
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return Reject("vuln.feed.not_json", "nvd", err)
		}
		key, _ := kt.(string)
		switch key {
		case "vulnerabilities", "cve_items":
			sawVulns = true
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return Reject("vuln.feed.bad_record", "nvd", err)
			}
			for dec.More() {
				if err := sink.record(dec, key == "vulnerabilities"); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return Reject("vuln.feed.not_json", "nvd", err)
			}
			continue
		}
		raw := json.RawMessage{}
		if err := dec.Decode(&raw); err != nil {
			return Reject("vuln.feed.not_json", "nvd", err)
		}
		if key == "cve_count" {
			if err := json.Unmarshal(raw, &declared); err != nil {
				return Reject("vuln.feed.bad_record", "nvd", err)
			}
			continue
		}
		if err := setNVDField(&single, key, raw); err != nil {
			return Reject("vuln.feed.bad_record", "nvd", err)
		}
		if key == "id" {
			sawID = true
		}
	}
	if _, err := dec.Token(); err != nil {
		return Reject("vuln.feed.not_json", "nvd", err)
	}
	if sawID && !sawVulns {
		return sink.single(&single)
	}
	if !sawVulns {
		return Reject("vuln.feed.not_nvd", "nvd", nil)
	}
	// Records taken so far must pass before the count is judged.
	if err := sink.finish(); err != nil {
		return err
	}
	if declared >= 0 && declared != sink.count() {
		return Reject("vuln.feed.bad_count", "nvd", errDetail("cve_count %d, records %d", declared, sink.count()))
	}
	return nil
}

func setNVDField(c *NVDCVE, key string, raw json.RawMessage) error {
	var buf bytes.Buffer
	buf.WriteByte('{')
	kb, _ := json.Marshal(key)
	buf.Write(kb)
	buf.WriteByte(':')
	buf.Write(raw)
	buf.WriteByte('}')
	return json.Unmarshal(buf.Bytes(), c)
}

func validateNVDID(c *NVDCVE, n int) error {
	if !cveID.MatchString(c.ID) {
		return Reject("vuln.feed.bad_cve_id", "nvd", errDetail("record %d: id %q", n, clip(c.ID)))
	}
	return nil
}

func validateNVD(c *NVDCVE, n int) error {
	if err := validateNVDID(c, n); err != nil {
		return err
	}
	return validateCPEs(c)
}

// validateCPEs checks every CPE name of a record's configurations.
func validateCPEs(c *NVDCVE) error {
	for _, cfg := range c.Configurations {
		for _, node := range cfg.Nodes {
			for _, m := range node.CPEMatch {
				if _, err := match.ParseCPE(m.Criteria); err != nil {
					return Reject("vuln.feed.bad_cpe", "nvd", errDetail("%s: %v", c.ID, err))
				}
			}
		}
	}
	return nil
}
