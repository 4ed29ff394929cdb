package version

import (
	"regexp"
	"strings"
)

// CiscoASA is the numbering of Cisco ASA software: "9.8(4)20" (train 9.8,
// maintenance release 4, interim 20), the newer "9.16(3.19)" and NVD's
// dotted "9.8.4.20", all three read as the same four numbers. "9.8(4)" is
// interim 0; a bare train "9.8" is Partial.
type CiscoASA struct{}

// Name returns "cisco-asa".
func (CiscoASA) Name() string { return "cisco-asa" }

var (
	asaParen  = regexp.MustCompile(`^(\d+)\.(\d+)\((\d+)(?:\.(\d+))?\)(\d+)?$`)
	asaDotted = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?$`)
)

// Parse reads an ASA version.
func (c CiscoASA) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(c.Name(), s)
	}
	n := normSpace(s)
	for _, p := range []string{"cisco", "adaptive security appliance", "asa", "software", "version"} {
		n = strings.TrimSpace(strings.TrimPrefix(n, p))
	}
	n = strings.TrimPrefix(n, "v")
	var parts []string
	if m := asaParen.FindStringSubmatch(n); m != nil {
		interim := m[5]
		if m[4] != "" {
			if interim != "" {
				return Version{}, invalid(c.Name(), s)
			}
			interim = m[4]
		}
		parts = []string{m[1], m[2], m[3], interim}
	} else if m := asaDotted.FindStringSubmatch(n); m != nil {
		parts = m[1:]
	} else {
		return Version{}, invalid(c.Name(), s)
	}
	key := make([]token, 0, 4)
	for _, p := range parts {
		if p == "" {
			p = "0"
		}
		key = append(key, num(p))
	}
	v := Version{Raw: s, scheme: c.Name(), key: trimZeros(key, 2)}
	v.Canonical = strings.Join([]string{tokText(key[0]), tokText(key[1]), tokText(key[2]), tokText(key[3])}, ".")
	if parts[2] == "" {
		v.partial(key[:2])
	}
	return v, nil
}

// Compare compares two ASA versions.
func (c CiscoASA) Compare(a, b string) (int, error) { return compareWith(c, a, b) }

func tokText(t token) string {
	if t.kind == tNum && t.s == "" {
		return "0"
	}
	return t.s
}

// CiscoIOS is the numbering of Cisco IOS and NX-OS, "15.2(4)M7": major and
// minor release, the maintenance rebuild in parentheses (with an optional
// letter, "12.2(55a)"), then the train letters and the train rebuild
// ("M7", "SE12", "SXJ10", with an optional letter, "M4a"); NX-OS adds a
// second parenthesised number ("7.1(4)N1(1)"). IOS XE's dotted "16.12.4"
// and "17.3.1a" are accepted too. Releases compare correctly within one
// train; different trains (M and T, say) compare alphabetically by train
// letters, which orders them but does not say which one carries a fix, so
// NVD's enumerated IOS releases, not ranges, are what should be matched.
type CiscoIOS struct{}

// Name returns "cisco-ios".
func (CiscoIOS) Name() string { return "cisco-ios" }

var (
	iosClassic = regexp.MustCompile(`^(\d+)\.(\d+)\((\d+)([a-z]?)\)([a-z]*)(\d*)([a-z]?)(?:\((\d+)([a-z]?)\))?$`)
	iosDotted  = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?([a-z]?)$`)
)

// Parse reads an IOS, IOS XE or NX-OS version.
func (c CiscoIOS) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(c.Name(), s)
	}
	n := normSpace(s)
	for _, p := range []string{"cisco", "ios xe", "ios-xe", "ios", "nx-os", "software", ",", "version"} {
		n = strings.TrimSpace(strings.TrimPrefix(n, p))
	}
	n = strings.ReplaceAll(n, " ", "")
	v := Version{Raw: s, scheme: c.Name(), Canonical: n}
	if m := iosClassic.FindStringSubmatch(n); m != nil {
		v.key = []token{num(m[1]), num(m[2]), num(m[3]), {kind: tAlpha, s: m[4]}, {kind: tAlpha, s: m[5]},
			num(m[6]), {kind: tAlpha, s: m[7]}, num(m[8]), {kind: tAlpha, s: m[9]}}
		return v, nil
	}
	if m := iosDotted.FindStringSubmatch(n); m != nil {
		v.key = []token{num(m[1]), num(m[2]), num(m[3]), num(m[4]), {kind: tAlpha, s: m[5]}}
		return v, nil
	}
	return Version{}, invalid(c.Name(), s)
}

// Compare compares two IOS versions.
func (c CiscoIOS) Compare(a, b string) (int, error) { return compareWith(c, a, b) }
