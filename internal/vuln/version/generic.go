package version

// Generic is the fallback scheme in the manner of rpmvercmp: the text is
// split into runs of digits and runs of letters (every other character
// separates runs); runs compare pairwise, numbers numerically, letters
// alphabetically (case-insensitive), a number newer than letters; "~" marks
// a pre-release that sorts before everything, even the end ("1.0~rc1" <
// "1.0"), and "^" a post-release that sorts after the end but before any
// further run. Unlike rpm, trailing zero runs are ignored, so "4.2" equals
// "4.2.0", as NVD's ranges expect.
type Generic struct{}

// Name returns "generic".
func (Generic) Name() string { return "generic" }

// Parse accepts any text with at least one letter or digit.
func (g Generic) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(g.Name(), s)
	}
	n := normSpace(s)
	t := tokenize(n, nil)
	if !hasRun(t) {
		return Version{}, invalid(g.Name(), s)
	}
	return Version{Raw: s, Canonical: n, scheme: g.Name(), key: trimZeros(t, 1)}, nil
}

// Compare compares a and b by the generic rules.
func (g Generic) Compare(a, b string) (int, error) { return compareWith(g, a, b) }

func hasRun(t []token) bool {
	for _, x := range t {
		if x.kind == tNum || x.kind == tAlpha {
			return true
		}
	}
	return false
}

// tokenize splits s into runs. pre, when not nil, reports letter runs that
// begin a pre-release ("beta", "rc"): a pre token is put before them.
func tokenize(s string, pre func(string) bool) []token {
	t := make([]token, 0, 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			t = append(t, num(s[i:j]))
			i = j
		case isAlpha(c):
			j := i
			for j < len(s) && isAlpha(s[j]) {
				j++
			}
			w := s[i:j]
			if pre != nil && pre(w) {
				t = append(t, token{kind: tPre})
			}
			t = append(t, token{kind: tAlpha, s: w})
			i = j
		case c == '~':
			t = append(t, token{kind: tPre})
			i++
		case c == '^':
			t = append(t, token{kind: tPost})
			i++
		default:
			i++
		}
	}
	return t
}
