package version

import (
	"regexp"
	"strings"
)

// PANOS is the numbering of Palo Alto Networks PAN-OS: "10.2.9" and its
// hotfixes "10.2.9-h1" < "10.2.9-h2" < "10.2.10". A release without a
// hotfix is older than its hotfixes (unlike semver, where "-h1" would be a
// pre-release). NVD enumerates hotfixes in the CPE update ("10.2.9:h1");
// JoinCPE puts them back together. "10.2" (no maintenance release) is
// Partial.
type PANOS struct{}

// Name returns "panos".
func (PANOS) Name() string { return "panos" }

var panosRe = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:[-.]?h(\d+))?$`)

// Parse reads a PAN-OS version.
func (p PANOS) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(p.Name(), s)
	}
	n := normSpace(s)
	for _, pre := range []string{"pan-os", "panos", "version"} {
		n = strings.TrimSpace(strings.TrimPrefix(n, pre))
	}
	n = strings.TrimPrefix(n, "v")
	m := panosRe.FindStringSubmatch(n)
	if m == nil || (m[3] == "" && m[4] != "") {
		return Version{}, invalid(p.Name(), s)
	}
	key := []token{num(m[1]), num(m[2]), num(m[3])}
	if m[4] != "" {
		key = append(key, num(m[4]))
	}
	v := Version{Raw: s, scheme: p.Name(), key: trimZeros(key, 3)}
	v.Canonical = tokText(key[0]) + "." + tokText(key[1]) + "." + tokText(key[2])
	if len(v.key) > 3 {
		v.Canonical += "-h" + tokText(key[3])
	}
	if m[3] == "" {
		v.partial(key[:2])
	}
	return v, nil
}

// Compare compares two PAN-OS versions.
func (p PANOS) Compare(a, b string) (int, error) { return compareWith(p, a, b) }
