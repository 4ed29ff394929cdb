package version

import (
	"regexp"
	"strings"
)

// FortiOS is Fortinet's numbering, used by FortiOS and the other Fortinet
// products NVD lists (FortiProxy, FortiManager, FortiSASE …): dotted
// numbers "7.2.4", optionally written as the device shows it
// ("v6.0.4,build0231,190107 (GA)", "FortiOS v7.2.4 build1396"), with the
// build number kept apart and not compared. "6.4.x" and a bare "7.2" name a
// release family (Partial). A beta ("5.0.0:beta1", "5.0.0 beta1") is older
// than its release. FortiSASE's letters ("24.4.a", "25.1.a.2") compare as
// letters, older than any number in the same place. The typing slips seen
// in Fortinet's own data ("6,2.3", "6.0.") are read as meant.
type FortiOS struct{}

// Name returns "fortios".
func (FortiOS) Name() string { return "fortios" }

var (
	fortiBuild = regexp.MustCompile(`(?:[,\s-]+|^)(?:build|b)\s*0*(\d+)`)
	fortiParen = regexp.MustCompile(`\([^)]*\)`)
	fortiComma = regexp.MustCompile(`^(\d+),(\d+)\.`)
	fortiStart = regexp.MustCompile(`\sv?\d+[.,]\d`)
)

// Parse reads a FortiOS version.
func (f FortiOS) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(f.Name(), s)
	}
	n := normSpace(s)
	for _, p := range []string{"fortios", "fortigate", "fortiproxy", "version"} {
		n = strings.TrimSpace(strings.TrimPrefix(n, p))
	}
	if n != "" && !isDigit(n[0]) && n[0] != 'v' {
		if loc := fortiStart.FindStringIndex(n); loc != nil {
			n = n[loc[0]:]
		}
	}
	n = strings.TrimSpace(n)
	n = strings.TrimPrefix(n, "v")
	v := Version{Raw: s, scheme: f.Name()}
	if strings.IndexByte(n, 'b') >= 0 {
		if m := fortiBuild.FindStringSubmatchIndex(n); m != nil {
			v.Build = n[m[2]:m[3]]
			n = n[:m[0]]
		}
	}
	if strings.IndexByte(n, '(') >= 0 {
		n = fortiParen.ReplaceAllString(n, "")
	}
	if strings.IndexByte(n, ',') >= 0 {
		n = fortiComma.ReplaceAllString(n, "$1.$2.")
	}
	if i := strings.IndexByte(n, ','); i >= 0 {
		n = n[:i]
	}
	n = strings.TrimSpace(n)
	n = strings.TrimRight(n, ".")
	if n == "" || !isDigit(n[0]) {
		return Version{}, invalid(f.Name(), s)
	}
	var key []token
	numeric := 0
	wild := false
	for _, seg := range strings.FieldsFunc(n, func(r rune) bool { return r == '.' || r == ':' || r == ' ' || r == '-' }) {
		if wild {
			return Version{}, invalid(f.Name(), s)
		}
		switch {
		case seg == "x" || seg == "*":
			wild = true
		case isAllDigits(seg):
			if len(key) > 0 && key[len(key)-1].kind == tAlpha {
				key = append(key, num(seg))
				continue
			}
			key = append(key, num(seg))
			numeric++
		default:
			w := strings.TrimRight(seg, "0123456789")
			d := seg[len(w):]
			if w == "" || !isAllAlpha(w) {
				return Version{}, invalid(f.Name(), s)
			}
			if w == "beta" || w == "alpha" || w == "rc" || w == "pre" {
				key = append(key, token{kind: tPre})
			}
			key = append(key, token{kind: tAlpha, s: w})
			if d != "" {
				key = append(key, num(d))
			}
		}
	}
	if numeric == 0 || len(key) > 12 {
		return Version{}, invalid(f.Name(), s)
	}
	v.Canonical = n
	v.key = trimZeros(key, 1)
	if wild || (numeric < 3 && allNum(key)) {
		v.partial(key)
	}
	return v, nil
}

// Compare compares two FortiOS versions.
func (f FortiOS) Compare(a, b string) (int, error) { return compareWith(f, a, b) }

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isAllAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return s != ""
}

func allNum(t []token) bool {
	for _, x := range t {
		if x.kind != tNum {
			return false
		}
	}
	return true
}
