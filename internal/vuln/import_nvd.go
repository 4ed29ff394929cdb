package vuln

import (
	"context"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/vuln/feed"
)

// NVD owns description, status, dates, CVSS and CWEs; a row changes (and
// is matched again) only when NVD's lastModified or status moved.
const nvdVulnTail = `ON CONFLICT (id) DO UPDATE SET description = excluded.description, nvd_status = excluded.nvd_status,
	withdrawn = excluded.withdrawn, published = excluded.published, modified = excluded.modified, cvss_score = excluded.cvss_score,
	cvss_version = excluded.cvss_version, cvss_severity = excluded.cvss_severity, cvss_vector = excluded.cvss_vector,
	cwes = excluded.cwes, updated_at = excluded.updated_at
	WHERE vuln_vulns.modified IS NULL OR vuln_vulns.modified <> excluded.modified OR vuln_vulns.nvd_status <> excluded.nvd_status
	OR vuln_vulns.description = ''`

// nvdRow is an NVD record validated, compiled and encoded for storage:
// what the writing pass stores of it.
type nvdRow struct {
	id, desc, status              string
	withdrawn                     bool
	published, modified           time.Time
	score                         float64
	cvssVersion, severity, vector string
	cwes                          string
	rules                         feed.StoredRules
}

func newNVDRow(rec *feed.NVDCVE, st feed.StoredRules) nvdRow {
	cv, _ := rec.BestCVSS()
	return nvdRow{id: rec.ID, desc: clipText(rec.Description("en"), 8000), status: rec.VulnStatus, withdrawn: rec.Rejected(),
		published: rec.Published.Time, modified: rec.LastModified.Time, score: cv.Score, cvssVersion: cv.Version,
		severity: strings.ToUpper(cv.Severity), vector: cv.Vector, cwes: strings.Join(rec.CWEs(), " "), rules: st}
}

// importNVD validates the whole file into a spool, then writes the
// spooled rows in chunks.
func (w *Watch) importNVD(ctx context.Context, r io.Reader, res *ImportResult) error {
	sp, err := w.newSpool()
	if err != nil {
		return err
	}
	defer sp.remove()
	if err := w.spoolNVD(ctx, r, res, sp); err != nil {
		return err
	}
	if err := sp.rewind(); err != nil {
		return err
	}
	im := w.newImporter(nil, res.Since, nvdVulnTail)
	var row nvdRow
	err = w.writeChunks(ctx, res, writePlan{
		batches: im.batches(),
		next: func(ctx context.Context) (bool, error) {
			if ok, err := sp.readNVD(&row); !ok || err != nil {
				return false, err
			}
			if err := im.vulns.add(ctx, row.id, row.id, "", "", row.desc, "", row.status, row.withdrawn, nullTime(row.published),
				nullTime(row.modified), row.score, row.cvssVersion, row.severity, row.vector, row.cwes, res.Since); err != nil {
				return false, err
			}
			return true, im.ruleData(ctx, row.id, "nvd", "", row.rules)
		},
	})
	if err != nil {
		return err
	}
	return w.countChanged(ctx, w.DB, res)
}

// spoolNVD is the validating pass of importNVD: records are decoded,
// validated, compiled and encoded on every CPU and appended to the spool
// in file order.
func (w *Watch) spoolNVD(ctx context.Context, r io.Reader, res *ImportResult, sp *spool) error {
	type prepared struct {
		row       []byte
		withdrawn bool
	}
	err := feed.EachNVDParallel(r, runtime.GOMAXPROCS(0), func(rec *feed.NVDCVE, st feed.StoredRules) (prepared, error) {
		row := newNVDRow(rec, st)
		return prepared{row: row.encode(nil), withdrawn: row.withdrawn}, nil
	}, func(p prepared) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.withdrawn {
			res.Withdrawn++
		}
		res.Records++
		return sp.write(p.row)
	})
	if err != nil {
		return err
	}
	if res.Records == 0 {
		return feedErr("vuln.feed.empty", res.Name, nil)
	}
	return nil
}
