package vuln

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// stubTail inserts a vulnerability a secondary source names before NVD
// does, filling only empty titles and dates of a known one.
const stubTail = `ON CONFLICT (id) DO UPDATE SET
	title = CASE WHEN vuln_vulns.title = '' THEN excluded.title ELSE vuln_vulns.title END,
	title_ja = CASE WHEN excluded.title_ja <> '' THEN excluded.title_ja ELSE vuln_vulns.title_ja END,
	summary_ja = CASE WHEN excluded.summary_ja <> '' THEN excluded.summary_ja ELSE vuln_vulns.summary_ja END,
	description = CASE WHEN vuln_vulns.description = '' THEN excluded.description ELSE vuln_vulns.description END,
	published = COALESCE(vuln_vulns.published, excluded.published),
	cvss_score = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_score ELSE vuln_vulns.cvss_score END,
	cvss_version = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_version ELSE vuln_vulns.cvss_version END,
	cvss_severity = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_severity ELSE vuln_vulns.cvss_severity END,
	cvss_vector = CASE WHEN vuln_vulns.cvss_score = 0 THEN excluded.cvss_vector ELSE vuln_vulns.cvss_vector END,
	withdrawn = CASE WHEN vuln_vulns.nvd_status = '' THEN excluded.withdrawn ELSE vuln_vulns.withdrawn END`

func (w *Watch) importKEV(ctx context.Context, r io.Reader, res *ImportResult) error {
	cat, err := feed.ParseKEV(r)
	if err != nil {
		return err
	}
	held := map[string]string{}
	rows, err := w.DB.Query(ctx, `SELECT cve, vendor || '|' || product || '|' || name || '|' || added || '|' || due || '|' || action || '|' || CASE WHEN ransomware THEN '1' ELSE '0' END FROM vuln_kev`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, sig string
		if err := rows.Scan(&id, &sig); err != nil {
			rows.Close()
			return err
		}
		held[id] = sig
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	type kevRow struct {
		e     *feed.KEVEntry
		rules feed.StoredRules
	}
	var todo []kevRow
	for i := range cat.Vulnerabilities {
		e := &cat.Vulnerabilities[i]
		res.Records++
		rw := "0"
		if e.Ransomware() {
			rw = "1"
		}
		sig := strings.Join([]string{e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded, e.DueDate, e.RequiredAction, rw}, "|")
		if held[e.CVEID] == sig {
			continue
		}
		st, err := storeRules(feed.KEVRules(e, w.Aliases))
		if err != nil {
			return err
		}
		todo = append(todo, kevRow{e, st})
	}
	im := w.newImporter(nil, res.Since, stubTail)
	kev := newBatch(nil, "vuln_kev", []string{"cve", "vendor", "product", "name", "added", "due", "action", "ransomware", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET vendor = excluded.vendor, product = excluded.product, name = excluded.name, added = excluded.added,
		due = excluded.due, action = excluded.action, ransomware = excluded.ransomware, updated_at = excluded.updated_at`, w.BatchSize)
	var changed []string
	i := 0
	res.Changed = len(todo)
	return w.writeChunks(ctx, res, writePlan{
		batches: append(im.batches(), kev),
		next: func(ctx context.Context) (bool, error) {
			if i == len(todo) {
				return false, nil
			}
			e, st := todo[i].e, todo[i].rules
			i++
			changed = append(changed, e.CVEID)
			if err := kev.add(ctx, e.CVEID, e.CVEID, e.VendorProject, e.Product, e.VulnerabilityName, e.DateAdded, e.DueDate,
				e.RequiredAction, e.Ransomware(), res.Since); err != nil {
				return false, err
			}
			if err := im.vulns.add(ctx, e.CVEID, e.CVEID, e.VulnerabilityName, "", e.ShortDescription, "", "", false, nil, nil,
				0.0, "", "", "", strings.Join(e.CWEs, " "), res.Since); err != nil {
				return false, err
			}
			return true, im.ruleData(ctx, e.CVEID, "kev", "", st)
		},
		commit: func(ctx context.Context, q db.Querier) error {
			err := touch(ctx, q, changed, res.Since)
			changed = changed[:0]
			return err
		},
	})
}

// touch marks vulnerabilities as changed at t, so that their findings are
// matched and prioritised again.
func touch(ctx context.Context, q db.Querier, ids []string, t time.Time) error {
	for c := range db.Chunks(ids) {
		if _, err := q.Exec(ctx, `UPDATE vuln_vulns SET updated_at = ? WHERE id IN (`+db.In(len(c))+`)`, db.Args([]any{t}, c)...); err != nil {
			return err
		}
	}
	return nil
}

func (w *Watch) importEPSS(ctx context.Context, r io.Reader, res *ImportResult) error {
	f, err := feed.ParseEPSS(r)
	if err != nil {
		return err
	}
	day := ""
	if !f.ScoreDate.IsZero() {
		day = f.ScoreDate.Format(time.DateOnly)
	}
	b := newBatch(nil, "vuln_epss", []string{"cve", "score", "percentile", "score_date", "updated_at"},
		`ON CONFLICT (cve) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, score_date = excluded.score_date,
		updated_at = excluded.updated_at`, max(w.BatchSize, 500))
	res.Records = len(f.Scores)
	res.Changed = res.Records
	i := 0
	return w.writeChunks(ctx, res, writePlan{
		batches: []*batch{b},
		next: func(ctx context.Context) (bool, error) {
			if i == len(f.Scores) {
				return false, nil
			}
			s := f.Scores[i]
			i++
			return true, b.add(ctx, s.CVE, s.CVE, s.EPSS, s.Percentile, day, res.Since)
		},
	})
}

func (w *Watch) importJVN(ctx context.Context, r io.Reader, res *ImportResult) error {
	var entries []feed.JVNEntry
	var err error
	if res.Format == feed.FormatJVNVULDEF {
		entries, err = feed.ParseJVNDetail(r)
	} else {
		entries, err = feed.ParseJVNRSS(r)
	}
	if err != nil {
		return err
	}
	rules := make([]feed.StoredRules, len(entries))
	for i := range entries {
		if rules[i], err = storeRules(entries[i].Rules(w.Reg)); err != nil {
			return err
		}
		res.Records++
		if entries[i].Withdrawn {
			res.Withdrawn++
		}
	}
	im := w.newImporter(nil, res.Since, stubTail)
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if i == len(entries) {
				return false, nil
			}
			e, st := &entries[i], rules[i]
			i++
			ids := e.CVEs
			if len(ids) == 0 {
				ids = []string{e.ID}
			}
			var cv feed.CVSS
			if len(e.CVSS) > 0 {
				cv = e.CVSS[0]
			}
			for _, id := range ids {
				withdrawn := e.Withdrawn && id == e.ID
				if err := im.vulns.add(ctx, id, id, "", clipText(e.Title, 1000), "", clipText(e.Summary, 8000), "", withdrawn,
					nullTime(e.Published), nullTime(e.Modified), cv.Score, cv.Version, strings.ToUpper(cv.Severity), cv.Vector,
					strings.Join(e.CWEs, " "), res.Since); err != nil {
					return false, err
				}
				if id != e.ID {
					if err := im.refs.add(ctx, id+"\x00"+e.ID, id, e.ID, "jvn", e.URL, clipText(e.Title, 1000)); err != nil {
						return false, err
					}
				}
				if err := im.ruleData(ctx, id, "jvn", e.ID, st); err != nil {
					return false, err
				}
			}
			return true, nil
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

func (w *Watch) importFortinet(ctx context.Context, r io.Reader, res *ImportResult) error {
	a, err := feed.ParseFortinet(r)
	if err != nil {
		return err
	}
	rules := a.Rules(w.Reg)
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	stored := make([]feed.StoredRules, len(ids))
	for i, id := range ids {
		if stored[i], err = storeRules(rules[id]); err != nil {
			return err
		}
	}
	res.Records = len(ids)
	var score float64
	vector := ""
	for _, v := range a.Vulnerabilities {
		for _, d := range v.Definitions {
			if d.CVSSv3 != nil && d.CVSSv3.BaseScore > score {
				score, vector = d.CVSSv3.BaseScore, d.CVSSv3.Vector
			}
		}
	}
	ver, sev := "", ""
	if score > 0 {
		ver, sev = "3.1", severityOf(score)
	}
	im := w.newImporter(nil, res.Since, stubTail)
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if i == len(ids) {
				return false, nil
			}
			id, st := ids[i], stored[i]
			i++
			if err := im.vulns.add(ctx, id, id, clipText(a.Title, 1000), "", clipText(a.Summary, 8000), "", "", false,
				nullTime(a.Published), nullTime(a.Updated), score, ver, sev, vector, "", res.Since); err != nil {
				return false, err
			}
			if id != a.ID {
				if err := im.refs.add(ctx, id+"\x00"+a.ID, id, a.ID, "fortinet", a.AdvisoryURL, clipText(a.Title, 1000)); err != nil {
					return false, err
				}
			}
			return true, im.ruleData(ctx, id, "fortinet", a.ID, st)
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

func severityOf(score float64) string {
	switch {
	case score >= 9:
		return "CRITICAL"
	case score >= 7:
		return "HIGH"
	case score >= 4:
		return "MEDIUM"
	case score > 0:
		return "LOW"
	}
	return ""
}

// maxCSAFBytes caps one CSAF document.
const maxCSAFBytes = 64 << 20

func (w *Watch) importCSAF(ctx context.Context, r io.Reader, res *ImportResult) error {
	body, err := io.ReadAll(io.LimitReader(r, maxCSAFBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxCSAFBytes {
		return feedErr("vuln.feed.too_large", res.Name, nil)
	}
	doc, err := feed.ParseCSAF(bytes.NewReader(body))
	if err != nil {
		return err
	}
	tid := doc.Document.Tracking.ID
	var vendors []string
	for _, p := range doc.Products() {
		if k := w.Aliases.VendorKey(p.Vendor); k != "" && !slices.Contains(vendors, k) {
			vendors = append(vendors, k)
		}
	}
	res.Records = len(doc.Vulnerabilities)
	im := w.newImporter(nil, res.Since, stubTail)
	url := ""
	i := 0
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		first: func(ctx context.Context, q db.Querier) error {
			_, err := q.Exec(ctx, `INSERT INTO vuln_docs (id, format, body, vendors, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET body = excluded.body, vendors = excluded.vendors, updated_at = excluded.updated_at`,
				tid, string(feed.FormatCSAF), string(body), strings.Join(vendors, " "), res.Since)
			return err
		},
		next: func(ctx context.Context) (bool, error) {
			if i == len(doc.Vulnerabilities) {
				return false, nil
			}
			v := doc.Vulnerabilities[i]
			i++
			id := v.CVE
			if id == "" {
				id = tid
				if len(doc.Vulnerabilities) > 1 {
					id = fmt.Sprintf("%s#%d", tid, i)
				}
			}
			var score float64
			var vec, ver string
			for _, s := range v.Scores {
				if s.CVSSv3 != nil && s.CVSSv3.BaseScore > score {
					score, vec, ver = s.CVSSv3.BaseScore, s.CVSSv3.VectorString, s.CVSSv3.Version
				}
			}
			title := v.Title
			if title == "" {
				title = doc.Document.Title
			}
			if err := im.vulns.add(ctx, id, id, clipText(title, 1000), "", "", "", "", false,
				nullTime(doc.Document.Tracking.InitialReleaseDate), nullTime(doc.Document.Tracking.CurrentReleaseDate),
				score, ver, severityOf(score), vec, "", res.Since); err != nil {
				return false, err
			}
			if id != tid {
				if err := im.refs.add(ctx, id+"\x00"+tid, id, tid, "csaf", url, clipText(doc.Document.Title, 1000)); err != nil {
					return false, err
				}
			}
			return true, im.rules.add(ctx, id+"\x00csaf\x00"+tid, id, "csaf", tid, strconv.Itoa(i-1), false, false, "", "", res.Since)
		},
		last: func(ctx context.Context, q db.Querier) error {
			_, err := q.Exec(ctx, `UPDATE vuln_rules SET updated_at = ? WHERE source = 'csaf' AND source_id = ?`, res.Since, tid)
			return err
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}
