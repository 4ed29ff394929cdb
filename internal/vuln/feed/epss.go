package feed

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// EPSSScore is one row of an EPSS file.
type EPSSScore struct {
	CVE        string
	EPSS       float64
	Percentile float64 // -1 when the file has no percentile column
}

// EPSSFile is a parsed EPSS file.
type EPSSFile struct {
	// ModelVersion and ScoreDate come from the "#model_version:…,
	// score_date:…" comment line of FIRST's daily files since 2022; they are
	// empty/zero in older files and in the per-year semicolon layout.
	ModelVersion string
	ScoreDate    time.Time
	Scores       []EPSSScore
}

// ParseEPSS reads FIRST EPSS CSV (plain or gzip): the daily layout with
// an optional comment line, a "cve,epss[,percentile]" header and comma
// rows, and the headerless "cve;epss;percentile" layout. Probabilities
// must lie in [0, 1]; a bad row rejects the whole file.
func ParseEPSS(r io.Reader) (*EPSSFile, error) {
	r, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFeedBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	f := &EPSSFile{}
	line := 0
	sep := byte(0)
	cols := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if err := f.comment(s); err != nil {
				return nil, Reject("vuln.feed.bad_header", "epss", errDetail("line %d: %v", line, err))
			}
			continue
		}
		if sep == 0 && strings.HasPrefix(strings.ToLower(s), "cve,") {
			h := strings.Split(strings.ToLower(s), ",")
			if len(h) < 2 || h[1] != "epss" || (len(h) > 2 && h[2] != "percentile") || len(h) > 3 {
				return nil, Reject("vuln.feed.bad_header", "epss", errDetail("line %d: %q", line, clip(s)))
			}
			sep, cols = ',', len(h)
			continue
		}
		if sep == 0 {
			switch {
			case strings.Contains(s, ";"):
				sep = ';'
			case strings.Contains(s, ","):
				sep = ','
			default:
				return nil, Reject("vuln.feed.bad_row", "epss", errDetail("line %d: %q", line, clip(s)))
			}
		}
		parts := strings.Split(s, string(sep))
		if (cols != 0 && len(parts) != cols) || len(parts) < 2 || len(parts) > 3 {
			return nil, Reject("vuln.feed.bad_row", "epss", errDetail("line %d: %q", line, clip(s)))
		}
		row := EPSSScore{CVE: strings.ToUpper(strings.TrimSpace(parts[0])), Percentile: -1}
		if !cveID.MatchString(row.CVE) {
			return nil, Reject("vuln.feed.bad_cve_id", "epss", errDetail("line %d: %q", line, clip(parts[0])))
		}
		var err error
		if row.EPSS, err = prob(parts[1]); err != nil {
			return nil, Reject("vuln.feed.bad_row", "epss", errDetail("line %d: %v", line, err))
		}
		if len(parts) == 3 {
			if row.Percentile, err = prob(parts[2]); err != nil {
				return nil, Reject("vuln.feed.bad_row", "epss", errDetail("line %d: %v", line, err))
			}
		}
		f.Scores = append(f.Scores, row)
	}
	if err := sc.Err(); err != nil {
		return nil, Reject("vuln.feed.bad_row", "epss", err)
	}
	if len(f.Scores) == 0 {
		return nil, Reject("vuln.feed.empty", "epss", nil)
	}
	return f, nil
}

func prob(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v > 1 || v != v {
		return 0, errDetail("%q is not a probability", clip(s))
	}
	return v, nil
}

// comment reads "#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000".
func (f *EPSSFile) comment(s string) error {
	for _, kv := range strings.Split(strings.TrimPrefix(s, "#"), ",") {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model_version":
			f.ModelVersion = strings.TrimSpace(v)
		case "score_date":
			v = strings.TrimSpace(v)
			var t time.Time
			var err error
			for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339, "2006-01-02"} {
				if t, err = time.Parse(layout, v); err == nil {
					break
				}
			}
			if err != nil {
				return errDetail("score_date %q", clip(v))
			}
			f.ScoreDate = t.UTC()
		}
	}
	return nil
}
