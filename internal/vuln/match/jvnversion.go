package match

import (
	"regexp"
	"strings"
)

// VersionRange is one structured range read from a textual version
// statement. A range with Exact set names one version; otherwise Start and
// End bound it (either may be empty); All means every version.
type VersionRange struct {
	Exact     string `json:"exact,omitempty"`
	Start     string `json:"start,omitempty"`
	StartIncl bool   `json:"start_incl,omitempty"`
	End       string `json:"end,omitempty"`
	EndIncl   bool   `json:"end_incl,omitempty"`
	All       bool   `json:"all,omitempty"`
	// Qualifier is text before the version that narrows it ("core" in
	// "core 2.0-beta9 から 2.12.1 より前のバージョン").
	Qualifier string `json:"qualifier,omitempty"`
	// Text is the phrase the range was read from.
	Text string `json:"text"`
}

// Bounds returns the range as NVD's four bounds (startIncluding,
// startExcluding, endIncluding, endExcluding); an exact version is both
// startIncluding and endIncluding.
func (r VersionRange) Bounds() (si, se, ei, ee string) {
	if r.Exact != "" {
		return r.Exact, "", r.Exact, ""
	}
	if r.StartIncl {
		si = r.Start
	} else {
		se = r.Start
	}
	if r.EndIncl {
		ei = r.End
	} else {
		ee = r.End
	}
	return
}

const verPat = `[vV]?\d[0-9A-Za-z.\-_()+]*`

var (
	jvnNoise    = regexp.MustCompile(`(?i)(のバージョン|バージョン|version|ver\.?|および?それ|及びそれ|ならびにそれ)`)
	jvnSplit    = regexp.MustCompile(`\s*(?:、|,|，|;|；|及び|および|並びに|ならびに|\n)\s*`)
	jvnRangeRe  = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)\s*(?:から|〜|～|~)\s*(` + verPat + `)\s*(より前|未満|まで|以前|以下)?$`)
	jvnBeforeRe = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)\s*(?:より前|未満)$`)
	jvnUptoRe   = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)\s*(?:以前|以下|まで)$`)
	jvnFromRe   = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)\s*(?:以降|以上)$`)
	jvnAfterRe  = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)\s*(?:より後|より新しい|を超える|超)$`)
	jvnExactRe  = regexp.MustCompile(`^(.*?)\s*(` + verPat + `)$`)
	jvnAllRe    = regexp.MustCompile(`^(全て|すべて|全)(の)?$|^all( versions)?$`)
)

// ParseJVNVersions reads JVN's Japanese version statements into ranges:
// 「1.5.62 未満」, 「7.3.7 より前のバージョン」 (< v); 「1.0 以前」,
// 「1.0 およびそれ以前」 (≤ v); 「2.0 以降」 (≥ v); 「2.0 より後」 (> v);
// 「2.13.0 から 2.15.0 より前のバージョン」, 「2.0 から 2.5 まで」,
// 「2.0～2.5」 (ranges); single versions; several of these joined by
// 「及び」, 「および」, 「、」 or commas; full-width digits and letters;
// 「全てのバージョン」. Parts it cannot read are returned in rest, for
// showing as text and matching at ConfidenceProduct.
func ParseJVNVersions(text string) (ranges []VersionRange, rest []string) {
	n := normWidth(text)
	n = strings.ReplaceAll(n, "より以前", "以前")
	n = jvnNoise.ReplaceAllString(n, " ")
	for _, seg := range jvnSplit.Split(n, -1) {
		seg = strings.Join(strings.Fields(seg), " ")
		if seg == "" {
			continue
		}
		r, ok := parseJVNSegment(seg)
		if !ok {
			rest = append(rest, seg)
			continue
		}
		r.Text = seg
		ranges = append(ranges, r)
	}
	return ranges, rest
}

func parseJVNSegment(seg string) (VersionRange, bool) {
	if jvnAllRe.MatchString(strings.ToLower(seg)) {
		return VersionRange{All: true}, true
	}
	if m := jvnRangeRe.FindStringSubmatch(seg); m != nil {
		r := VersionRange{Qualifier: m[1], Start: trimV(m[2]), StartIncl: true, End: trimV(m[3]), EndIncl: true}
		if m[4] == "より前" || m[4] == "未満" {
			r.EndIncl = false
		}
		return r, true
	}
	if m := jvnBeforeRe.FindStringSubmatch(seg); m != nil {
		return VersionRange{Qualifier: m[1], End: trimV(m[2])}, true
	}
	if m := jvnUptoRe.FindStringSubmatch(seg); m != nil {
		return VersionRange{Qualifier: m[1], End: trimV(m[2]), EndIncl: true}, true
	}
	if m := jvnFromRe.FindStringSubmatch(seg); m != nil {
		return VersionRange{Qualifier: m[1], Start: trimV(m[2]), StartIncl: true}, true
	}
	if m := jvnAfterRe.FindStringSubmatch(seg); m != nil {
		return VersionRange{Qualifier: m[1], Start: trimV(m[2])}, true
	}
	if m := jvnExactRe.FindStringSubmatch(seg); m != nil {
		return VersionRange{Qualifier: m[1], Exact: trimV(m[2])}, true
	}
	return VersionRange{}, false
}

func trimV(s string) string {
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'V') && s[1] >= '0' && s[1] <= '9' {
		return s[1:]
	}
	return s
}
