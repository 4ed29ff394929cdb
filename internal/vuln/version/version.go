// Package version compares firmware and software versions by the rules of
// each vendor's numbering scheme (FortiOS, Cisco ASA and IOS, Citrix ADC,
// PAN-OS, Ivanti Connect Secure, Windows, semantic versioning) with an
// rpm-style fallback, and picks the scheme for a CPE vendor and product.
//
// Every scheme turns a version into a sequence of tokens and compares the
// sequences lexicographically over one total order of token kinds, so
// every Compare is antisymmetric and transitive by construction.
package version

import (
	"errors"
	"fmt"
	"strings"
)

// Scheme is one vendor's version numbering.
type Scheme interface {
	// Name returns the scheme's short name ("fortios", "panos", …).
	Name() string
	// Parse reads a version as the vendor writes it; it returns an error
	// wrapping ErrInvalid when the text is not a version of this scheme.
	Parse(s string) (Version, error)
	// Compare returns -1, 0 or +1 as a is older than, the same as or newer
	// than b, or an error when either does not parse.
	Compare(a, b string) (int, error)
}

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("version: not a valid version")

func invalid(scheme, s string) error {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Errorf("%w for %s: %q", ErrInvalid, scheme, s)
}

// MaxLen is the longest version text a scheme accepts.
const MaxLen = 256

// Version is a parsed version.
type Version struct {
	// Raw is the text as given.
	Raw string
	// Canonical is the normalised text (e.g. "6.0.4" for
	// "v6.0.4,build0231,190107 (GA)", "9.8.4.20" for "9.8(4)20").
	Canonical string
	// Partial is true when the text names a family of releases rather than
	// one release ("6.4.x", a Citrix train "13.0" without a build, a Windows
	// build without its revision). Low and High are then the oldest and the
	// newest possible member.
	Partial bool
	// Edition carries a variant named inside the version text, such as
	// Citrix "fips" or "ndcpp"; empty otherwise.
	Edition string
	// Build is a build number given beside the version (FortiOS
	// ",build0231"); it does not take part in comparisons.
	Build string

	scheme string
	key    []token
	low    []token
	high   []token
}

// Scheme returns the name of the scheme that parsed v.
func (v Version) Scheme() string { return v.scheme }

// IsZero reports whether v is the zero Version (not parsed).
func (v Version) IsZero() bool { return v.key == nil }

// Cmp compares two versions parsed by the same scheme: -1, 0 or +1.
// Versions of different schemes compare by scheme name first.
func (v Version) Cmp(w Version) int {
	if v.scheme != w.scheme {
		return strings.Compare(v.scheme, w.scheme)
	}
	return compareTokens(v.key, w.key)
}

// Low returns the oldest member of a partial version, or v itself.
func (v Version) Low() Version { return v.member(v.low) }

// High returns the newest member of a partial version (an upper bound
// newer than every real release of the family), or v itself.
func (v Version) High() Version { return v.member(v.high) }

// member returns the member of partial version v whose key is key, or v
// itself when v is not partial.
func (v Version) member(key []token) Version {
	if !v.Partial {
		return v
	}
	w := v
	w.Partial, w.key, w.low, w.high = false, key, nil, nil
	return w
}

// tokKind orders token kinds. The order is fixed for every scheme:
//
//	pre < end < post < lowNum < alpha < num < max
//
// "pre" marks a pre-release (rpm "~", semver "-", FortiOS beta) and sorts
// before the end of the sequence; "post" (rpm "^") sorts after the end but
// before any further component; lowNum is a numeric component that sorts
// below letters (semver pre-release identifiers); max is a wildcard that
// is newer than every concrete component.
type tokKind uint8

const (
	tPre tokKind = iota
	tEnd
	tPost
	tLowNum
	tAlpha
	tNum
	tMax
)

type token struct {
	kind tokKind
	s    string
}

func num(s string) token {
	s = strings.TrimLeft(s, "0")
	return token{kind: tNum, s: s}
}

func compareTokens(a, b []token) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := token{kind: tEnd}, token{kind: tEnd}
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := compareToken(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func compareToken(x, y token) int {
	if x.kind != y.kind {
		if x.kind < y.kind {
			return -1
		}
		return 1
	}
	switch x.kind {
	case tNum, tLowNum:
		if len(x.s) != len(y.s) {
			if len(x.s) < len(y.s) {
				return -1
			}
			return 1
		}
		return strings.Compare(x.s, y.s)
	case tAlpha:
		return strings.Compare(x.s, y.s)
	}
	return 0
}

// partial makes v a partial version standing for every version that
// begins with prefix: from v itself up to the end of that series.
func (v *Version) partial(prefix []token) {
	v.Partial = true
	v.low = v.key
	v.high = append(append([]token{}, prefix...), token{kind: tMax})
}

// trimZeros drops zero numbers that stand right before the end or before
// a pre-release mark, so that "7.0" equals "7.0.0" and "1.0~rc1" equals
// "1.0.0~rc1"; it never leaves fewer than keep tokens.
func trimZeros(t []token, keep int) []token {
	out := make([]token, 0, len(t))
	for i := 0; i < len(t); i++ {
		if t[i].kind == tNum && t[i].s == "" {
			j := i
			for j < len(t) && t[j].kind == tNum && t[j].s == "" {
				j++
			}
			if j == len(t) || t[j].kind == tPre {
				drop := j - i
				if room := len(out) + (len(t) - i) - keep; room < drop {
					drop = max(room, 0)
				}
				out = append(out, t[i:j-drop]...)
				i = j - 1
				continue
			}
		}
		out = append(out, t[i])
	}
	return out
}

func compareWith(s Scheme, a, b string) (int, error) {
	va, err := s.Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := s.Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Cmp(vb), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// normSpace lower-cases s, turns full-width ASCII into half-width and
// trims spaces.
func normSpace(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(strings.TrimSpace(s))
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.ToLower(strings.TrimSpace(b.String()))
}
