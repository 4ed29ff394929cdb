package version

import (
	"regexp"
	"strings"
)

// Ivanti is the numbering of Ivanti (formerly Pulse Secure) Connect Secure
// and Policy Secure: train and release, "9.1R11.4", "22.7R2.3". NVD splits
// it into CPE version and update ("9.1" and "r11.4"); JoinCPE joins them.
// "9.1R11" equals "9.1R11.0"; a train alone ("9.1") is older than all of
// its releases and, as an asset's version, Partial. A trailing build
// number ("9.1R11.4 build 12345") is kept in Build and not compared.
type Ivanti struct{}

// Name returns "ivanti".
func (Ivanti) Name() string { return "ivanti" }

var (
	ivantiRe    = regexp.MustCompile(`^(\d+)\.(\d+)(?:\s*r(\d+)(?:\.(\d+))?)?$`)
	ivantiBuild = regexp.MustCompile(`[\s,(]*build\s*(\d+)\)?$`)
)

// Parse reads an Ivanti Connect Secure version.
func (iv Ivanti) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(iv.Name(), s)
	}
	n := normSpace(s)
	for _, p := range []string{"ivanti", "pulse", "connect secure", "policy secure", "ics", "pcs", "version"} {
		n = strings.TrimSpace(strings.TrimPrefix(n, p))
	}
	v := Version{Raw: s, scheme: iv.Name()}
	if !strings.Contains(n, "build") {
	} else if m := ivantiBuild.FindStringSubmatchIndex(n); m != nil {
		v.Build = n[m[2]:m[3]]
		n = strings.TrimSpace(n[:m[0]])
	}
	m := ivantiRe.FindStringSubmatch(n)
	if m == nil {
		return Version{}, invalid(iv.Name(), s)
	}
	key := []token{num(m[1]), num(m[2])}
	v.Canonical = m[1] + "." + m[2]
	if m[3] != "" {
		key = append(key, num(m[3]), num(m[4]))
		v.Canonical += "R" + m[3]
		if m[4] != "" {
			v.Canonical += "." + m[4]
		}
	}
	v.key = trimZeros(key, 3)
	if m[3] == "" {
		v.partial(key[:2])
	}
	return v, nil
}

// Compare compares two Ivanti versions.
func (iv Ivanti) Compare(a, b string) (int, error) { return compareWith(iv, a, b) }
