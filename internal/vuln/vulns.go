package vuln

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Vuln is one stored vulnerability with what every source says about it.
type Vuln struct {
	ID           string    `json:"id"`
	Title        string    `json:"title,omitempty"`
	TitleJA      string    `json:"title_ja,omitempty"`
	Description  string    `json:"description,omitempty"`
	SummaryJA    string    `json:"summary_ja,omitempty"`
	NVDStatus    string    `json:"nvd_status,omitempty"`
	Withdrawn    bool      `json:"withdrawn"`
	Published    time.Time `json:"published,omitzero"`
	Modified     time.Time `json:"modified,omitzero"`
	CVSS         float64   `json:"cvss"`
	CVSSVersion  string    `json:"cvss_version,omitempty"`
	Severity     string    `json:"severity,omitempty"`
	Vector       string    `json:"cvss_vector,omitempty"`
	CWEs         []string  `json:"cwes,omitempty"`
	KEV          bool      `json:"kev"`
	Ransomware   bool      `json:"ransomware"`
	KEVAdded     string    `json:"kev_added,omitempty"`
	KEVDue       string    `json:"kev_due,omitempty"`
	KEVAction    string    `json:"kev_action,omitempty"`
	EPSS         float64   `json:"epss"`
	EPSSPct      float64   `json:"epss_percentile"`
	Refs         []Ref     `json:"refs,omitempty"`
	Sources      []string  `json:"sources,omitempty"`
	FixedVersion []string  `json:"fixed_versions,omitempty"`
}

// Ref is another identifier of a vulnerability: a JVNDB id, a vendor
// advisory, a CSAF document.
type Ref struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	URL    string `json:"url,omitempty"`
	Title  string `json:"title,omitempty"`
}

// Label is the title to show: JVN's Japanese title, else the source's
// title, else the start of the description.
func (v Vuln) Label() string {
	switch {
	case v.TitleJA != "":
		return v.TitleJA
	case v.Title != "":
		return v.Title
	}
	return clipText(v.Description, 160)
}

const vulnSelect = `SELECT v.id, v.title, v.title_ja, v.description, v.summary_ja, v.nvd_status, v.withdrawn, v.published, v.modified,
	v.cvss_score, v.cvss_version, v.cvss_severity, v.cvss_vector, v.cwes, k.cve IS NOT NULL, COALESCE(k.ransomware, FALSE),
	COALESCE(k.added, ''), COALESCE(k.due, ''), COALESCE(k.action, ''), COALESCE(e.score, 0), COALESCE(e.percentile, -1)
	FROM vuln_vulns v LEFT JOIN vuln_kev k ON k.cve = v.id LEFT JOIN vuln_epss e ON e.cve = v.id`

type scanner = db.Scanner

func scanVuln(s scanner) (Vuln, error) {
	var v Vuln
	var pub, mod *time.Time
	var cwes string
	err := s.Scan(&v.ID, &v.Title, &v.TitleJA, &v.Description, &v.SummaryJA, &v.NVDStatus, &v.Withdrawn, &pub, &mod,
		&v.CVSS, &v.CVSSVersion, &v.Severity, &v.Vector, &cwes, &v.KEV, &v.Ransomware, &v.KEVAdded, &v.KEVDue, &v.KEVAction,
		&v.EPSS, &v.EPSSPct)
	if pub != nil {
		v.Published = *pub
	}
	if mod != nil {
		v.Modified = *mod
	}
	v.CWEs = strings.Fields(cwes)
	return v, err
}

// GetVuln returns a vulnerability with its cross-links, sources and fixed
// versions, by CVE id or by any id it is cross-linked with (a JVNDB id, an
// advisory id).
func GetVuln(ctx context.Context, q db.Querier, id string) (Vuln, error) {
	id = strings.TrimSpace(id)
	v, err := scanVuln(q.QueryRow(ctx, vulnSelect+` WHERE v.id = ?`, id))
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		var alt string
		if err2 := q.QueryRow(ctx, `SELECT vuln_id FROM vuln_refs WHERE ref_id = ? ORDER BY vuln_id LIMIT 1`, id).Scan(&alt); err2 == nil {
			v, err = scanVuln(q.QueryRow(ctx, vulnSelect+` WHERE v.id = ?`, alt))
		}
	}
	if err := db.ScanErr(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return v, apperr.New(apperr.NotFound, "vuln.not_found", id)
		}
		return v, err
	}
	rows, err := q.Query(ctx, `SELECT ref_id, source, url, title FROM vuln_refs WHERE vuln_id = ? ORDER BY source, ref_id`, v.ID)
	if err != nil {
		return v, err
	}
	for rows.Next() {
		var r Ref
		if err := rows.Scan(&r.ID, &r.Source, &r.URL, &r.Title); err != nil {
			rows.Close()
			return v, err
		}
		v.Refs = append(v.Refs, r)
	}
	rows.Close()
	rows, err = q.Query(ctx, `SELECT source, fixed FROM vuln_rules WHERE vuln_id = ? AND NOT pending ORDER BY source`, v.ID)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var src, fixed string
		if err := rows.Scan(&src, &fixed); err != nil {
			return v, err
		}
		if !slices.Contains(v.Sources, src) {
			v.Sources = append(v.Sources, src)
		}
		for _, f := range strings.Fields(fixed) {
			if !slices.Contains(v.FixedVersion, f) {
				v.FixedVersion = append(v.FixedVersion, f)
			}
		}
	}
	return v, rows.Err()
}

// VulnFilter selects vulnerabilities for the search page.
type VulnFilter struct {
	// Query is a CVE/JVNDB/advisory id or words of the title/description.
	Query string
	// KEV keeps only vulnerabilities known to be exploited.
	KEV    bool
	Limit  int
	Offset int
}

// SearchVulns returns the first page of vulnerabilities matching f
// (after f.Offset rows), known-exploited and recently modified first; see
// PageVulns.
func SearchVulns(ctx context.Context, q db.Querier, f VulnFilter) ([]Vuln, error) {
	p, err := PageVulns(ctx, q, f, "")
	return p.Vulns, err
}
