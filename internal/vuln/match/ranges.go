package match

import (
	"strings"

	"github.com/medisac/medisac/internal/vuln/version"
)

// InRanges tells whether the version ver, read with the scheme sch, lies
// in one of a source's version ranges (unreadable: the source wrote
// ranges that could not be read). Yes comes with ConfidenceExact, or with
// ConfidenceProduct and ReasonNoVersionData when the source gives no
// range; Maybe with ConfidenceProduct and the reason it cannot tell; No
// with neither.
func InRanges(ranges []VersionRange, unreadable bool, sch version.Scheme, ver string) (Tri, Confidence, Reason) {
	if unreadable {
		return Maybe, ConfidenceProduct, ReasonVersionUnparseable
	}
	if len(ranges) == 0 {
		return Yes, ConfidenceProduct, ReasonNoVersionData
	}
	ver = strings.TrimSpace(ver)
	if ver == "" {
		return Maybe, ConfidenceProduct, ReasonVersionUnknown
	}
	best := No
	for _, r := range ranges {
		if r.All {
			return Yes, ConfidenceExact, ""
		}
		si, se, ei, ee := r.Bounds()
		c := &Criterion{StartIncluding: si, StartExcluding: se, EndIncluding: ei, EndExcluding: ee, scheme: sch}
		for k, t := range []string{si, se, ei, ee} {
			if t != "" {
				pv, err := sch.Parse(t)
				c.bounds[k] = bound{text: t, parsed: pv, err: err}
			}
		}
		id := &Identity{ver: ver, sch: sch}
		id.pv, id.perr = sch.Parse(ver)
		v, _ := inRange(c, id)
		best = max(best, v)
	}
	switch best {
	case Yes:
		return Yes, ConfidenceExact, ""
	case Maybe:
		return Maybe, ConfidenceProduct, ReasonVersionUnparseable
	}
	return No, "", ""
}
