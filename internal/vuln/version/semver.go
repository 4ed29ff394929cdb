package version

import "strings"

// Semver is Semantic Versioning 2.0.0: MAJOR.MINOR.PATCH, a pre-release
// after "-" (dot-separated identifiers; numeric identifiers compare as
// numbers and are older than alphanumeric ones; a shorter list of equal
// identifiers is older; any pre-release is older than the release) and
// build metadata after "+", which is ignored. A leading "v" and a missing
// minor or patch number ("1.2") are accepted and read as zeros.
// Identifiers are compared case-sensitively, as the specification says.
type Semver struct{}

// Name returns "semver".
func (Semver) Name() string { return "semver" }

// Parse reads a semantic version.
func (sv Semver) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(sv.Name(), s)
	}
	n := strings.TrimSpace(s)
	n = strings.TrimPrefix(strings.TrimPrefix(n, "v"), "V")
	if i := strings.IndexByte(n, '+'); i >= 0 {
		if !validIdents(n[i+1:]) {
			return Version{}, invalid(sv.Name(), s)
		}
		n = n[:i]
	}
	core, pre, hasPre := strings.Cut(n, "-")
	nums := strings.Split(core, ".")
	if len(nums) > 3 {
		return Version{}, invalid(sv.Name(), s)
	}
	key := make([]token, 0, 6)
	for i := 0; i < 3; i++ {
		p := "0"
		if i < len(nums) {
			p = nums[i]
		}
		if !isAllDigits(p) {
			return Version{}, invalid(sv.Name(), s)
		}
		key = append(key, num(p))
	}
	canon := tokText(key[0]) + "." + tokText(key[1]) + "." + tokText(key[2])
	if hasPre {
		if !validIdents(pre) {
			return Version{}, invalid(sv.Name(), s)
		}
		key = append(key, token{kind: tPre})
		for _, id := range strings.Split(pre, ".") {
			if isAllDigits(id) {
				t := num(id)
				t.kind = tLowNum
				key = append(key, t)
			} else {
				key = append(key, token{kind: tAlpha, s: id})
			}
		}
		canon += "-" + pre
	}
	return Version{Raw: s, Canonical: canon, scheme: sv.Name(), key: key}, nil
}

// Compare compares two semantic versions.
func (sv Semver) Compare(a, b string) (int, error) { return compareWith(sv, a, b) }

func validIdents(s string) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !isDigit(c) && !isAlpha(c) && c != '-' {
				return false
			}
		}
	}
	return true
}
