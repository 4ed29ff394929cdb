package version

import (
	"regexp"
	"strings"
)

// Windows is the numbering of Windows builds: major.minor.build.revision,
// "10.0.19045.3803", compared number by number. Also accepted: the build
// and revision alone ("19045.3803", taken as 10.0), and winver's wording
// ("Version 22H2 (OS Build 19045.3803)"). Without the revision
// ("10.0.19045") the version is Partial: the build is known, the patch
// level is not.
type Windows struct{}

// Name returns "windows".
func (Windows) Name() string { return "windows" }

var (
	winFull    = regexp.MustCompile(`(?:^|[^\d.])(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?(?:$|[^\d.])`)
	winOSBuild = regexp.MustCompile(`build\s*(\d{4,5})(?:\.(\d+))?(?:$|[^\d.])`)
	winBuild   = regexp.MustCompile(`^(\d{4,5})(?:\.(\d+))?$`)
)

// Parse reads a Windows version.
func (w Windows) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(w.Name(), s)
	}
	n := normSpace(s)
	var parts [4]string
	if m := winFull.FindStringSubmatch(n); m != nil {
		copy(parts[:], m[1:5])
	} else if m := winOSBuild.FindStringSubmatch(n); m != nil {
		parts = [4]string{"10", "0", m[1], m[2]}
	} else if m := winBuild.FindStringSubmatch(n); m != nil {
		parts = [4]string{"10", "0", m[1], m[2]}
	} else {
		return Version{}, invalid(w.Name(), s)
	}
	key := []token{num(parts[0]), num(parts[1]), num(parts[2]), num(parts[3])}
	v := Version{Raw: s, scheme: w.Name(), key: trimZeros(key, 3)}
	v.Canonical = tokText(key[0]) + "." + tokText(key[1]) + "." + tokText(key[2])
	if parts[3] != "" {
		v.Canonical += "." + tokText(key[3])
	} else {
		v.partial(key[:3])
	}
	return v, nil
}

// Compare compares two Windows versions.
func (w Windows) Compare(a, b string) (int, error) { return compareWith(w, a, b) }

// WindowsBuild returns the build number ("19045") of a Windows version,
// or "" when s does not parse.
func WindowsBuild(s string) string {
	v, err := Windows{}.Parse(s)
	if err != nil {
		return ""
	}
	parts := strings.Split(v.Canonical, ".")
	return parts[2]
}
