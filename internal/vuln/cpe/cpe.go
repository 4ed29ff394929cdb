// Package cpe implements CPE 2.3 names: the well-formed name (WFN) model of
// NISTIR 7695, its formatted-string binding (cpe:2.3:…) and the legacy 2.2
// URI binding (cpe:/…), and name matching per NISTIR 7696.
//
// Attribute values are held in the WFN form: lower case, every character
// other than a letter, a digit or "_" quoted with a backslash, and the
// unquoted "*" and "?" standing for wildcards. Matching is case-insensitive,
// as the specification requires.
package cpe

import (
	"errors"
	"fmt"
	"strings"
)

// Attribute indexes one of the eleven WFN attributes of a Name.
type Attribute int

// The eleven attributes, in binding order.
const (
	Part Attribute = iota
	Vendor
	Product
	Version
	Update
	Edition
	Language
	SWEdition
	TargetSW
	TargetHW
	Other
	NumAttributes
)

var attrNames = [NumAttributes]string{"part", "vendor", "product", "version", "update", "edition",
	"language", "sw_edition", "target_sw", "target_hw", "other"}

// String returns the attribute's name as the specification spells it.
func (a Attribute) String() string {
	if a < 0 || a >= NumAttributes {
		return fmt.Sprintf("attribute(%d)", int(a))
	}
	return attrNames[a]
}

// Kind tells whether an attribute value is a logical value or a string.
type Kind uint8

// The kinds of attribute value. The zero value is Any, so a zero Name
// matches everything.
const (
	Any Kind = iota
	NA
	Str
)

// Value is one attribute value. V holds the WFN-quoted string when Kind is
// Str and is empty otherwise.
type Value struct {
	Kind Kind
	V    string
}

// AnyValue is the logical value ANY ("*").
var AnyValue = Value{Kind: Any}

// NAValue is the logical value NA ("-").
var NAValue = Value{Kind: NA}

// String returns the value for people to read: "*" for ANY, "-" for NA,
// otherwise the text with quoting removed (wildcards stay as "*" and "?").
func (v Value) String() string {
	switch v.Kind {
	case Any:
		return "*"
	case NA:
		return "-"
	}
	return Unquote(v.V)
}

// HasWildcards reports whether the value holds an unquoted "*" or "?".
func (v Value) HasWildcards() bool {
	if v.Kind != Str {
		return false
	}
	for i := 0; i < len(v.V); i++ {
		switch v.V[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// Name is a well-formed CPE name: eleven attribute values indexed by
// Attribute. The zero Name has every attribute ANY.
type Name [NumAttributes]Value

// Get returns the value of attribute a.
func (n Name) Get(a Attribute) Value { return n[a] }

// Text returns the unquoted text of a string attribute, "" for ANY and NA.
func (n Name) Text(a Attribute) string {
	if n[a].Kind != Str {
		return ""
	}
	return Unquote(n[a].V)
}

// Key returns "vendor:product" in WFN-quoted form, the key by which
// criteria and assets are indexed.
func (n Name) Key() string { return n[Vendor].key() + ":" + n[Product].key() }

func (v Value) key() string {
	switch v.Kind {
	case Any:
		return "*"
	case NA:
		return "-"
	}
	return v.V
}

// ErrSyntax is wrapped by every parse error of this package.
var ErrSyntax = errors.New("cpe: invalid name")

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)
}

// MaxLen is the longest name Parse accepts.
const MaxLen = 2048

// Parse parses a CPE name in the 2.3 formatted-string binding ("cpe:2.3:…")
// or the 2.2 URI binding ("cpe:/…"). A formatted string with fewer than
// eleven attributes (as people type them: "cpe:2.3:o:fortinet:fortios:7.2.4")
// has the missing ones set to ANY. It returns an error wrapping ErrSyntax for
// anything else.
func Parse(s string) (Name, error) {
	if len(s) > MaxLen {
		return Name{}, syntaxErr("longer than %d bytes", MaxLen)
	}
	switch {
	case hasPrefixFold(s, "cpe:2.3:"):
		return parseFS(s[len("cpe:2.3:"):])
	case hasPrefixFold(s, "cpe:/"):
		return parseURI(s[len("cpe:/"):])
	}
	return Name{}, syntaxErr("%q does not start with cpe:2.3: or cpe:/", truncate(s))
}

// MustParse is Parse that panics, for tests and tables of constants.
func MustParse(s string) Name {
	n, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func parseFS(s string) (Name, error) {
	var n Name
	i := 0
	start := 0
	for pos := 0; ; pos++ {
		if pos < len(s) {
			if s[pos] == '\\' {
				pos++
				if pos >= len(s) {
					return Name{}, syntaxErr("backslash at the end")
				}
				continue
			}
			if s[pos] != ':' {
				continue
			}
		}
		if i >= int(NumAttributes) {
			return Name{}, syntaxErr("more than %d attributes", NumAttributes)
		}
		v, err := unbindFS(s[start:pos])
		if err != nil {
			return Name{}, fmt.Errorf("%w (%s)", err, Attribute(i))
		}
		n[i] = v
		i++
		start = pos + 1
		if pos >= len(s) {
			break
		}
	}
	if err := checkPart(n[Part]); err != nil {
		return Name{}, err
	}
	return n, nil
}

func checkPart(v Value) error {
	switch {
	case v.Kind == Any:
		return nil
	case v.Kind == Str && (v.V == "a" || v.V == "o" || v.V == "h"):
		return nil
	}
	return syntaxErr("part must be a, o or h, not %q", v.String())
}

// unbindFS turns one formatted-string component into a WFN value.
func unbindFS(s string) (Value, error) {
	switch s {
	case "":
		return Value{}, syntaxErr("empty attribute")
	case "*":
		return AnyValue, nil
	case "-":
		return NAValue, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return Value{}, syntaxErr("backslash at the end of %q", truncate(s))
			}
			i++
			if s[i] < 0x21 || s[i] > 0x7e {
				return Value{}, syntaxErr("character %q not allowed in %q", rune(s[i]), truncate(s))
			}
			writeQuoted(&b, lower(s[i]))
		case c == '*':
			if i != 0 && i != len(s)-1 {
				return Value{}, syntaxErr("wildcard * inside %q", truncate(s))
			}
			if len(s) >= 2 && i == len(s)-1 && s[i-1] == '*' && !escapedAt(s, i-1) {
				return Value{}, syntaxErr("two wildcards in %q", truncate(s))
			}
			b.WriteByte('*')
		case c == '?':
			if !questionAtEdge(s, i) {
				return Value{}, syntaxErr("wildcard ? inside %q", truncate(s))
			}
			b.WriteByte('?')
		case c < 0x21 || c > 0x7e:
			return Value{}, syntaxErr("character %q not allowed in %q", rune(c), truncate(s))
		default:
			writeQuoted(&b, lower(c))
		}
	}
	v := b.String()
	if v == "" {
		return Value{}, syntaxErr("empty attribute")
	}
	return Value{Kind: Str, V: v}, nil
}

// escapedAt reports whether the byte at i is preceded by an odd number of
// backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// questionAtEdge reports whether the "?" at i belongs to a run of unquoted
// question marks that touches the start or the end of s (an optional "*" on
// the far side of the run is allowed, as in "*??").
func questionAtEdge(s string, i int) bool {
	j := i
	for j > 0 && s[j-1] == '?' && !escapedAt(s, j-1) {
		j--
	}
	if j == 0 {
		return true
	}
	if j == 1 && s[0] == '*' {
		return true
	}
	k := i
	for k+1 < len(s) && s[k+1] == '?' {
		k++
	}
	if k == len(s)-1 {
		return true
	}
	return k == len(s)-2 && s[len(s)-1] == '*' && !escapedAt(s, len(s)-1)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isPlain(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '_' || ('A' <= c && c <= 'Z')
}

func writeQuoted(b *strings.Builder, c byte) {
	if !isPlain(c) {
		b.WriteByte('\\')
	}
	b.WriteByte(c)
}

// Quote returns the WFN-quoted form of literal text (lower-cased, every
// character other than a letter, digit or "_" quoted); "*" and "?" in text
// are quoted too, so the result never holds wildcards. Bytes a CPE cannot
// hold (controls, space, non-ASCII) become "_".
func Quote(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < 0x21 || c > 0x7e {
			c = '_'
		}
		writeQuoted(&b, lower(c))
	}
	return b.String()
}

// Unquote removes the WFN quoting from v.
func Unquote(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// StrValue returns a Str value holding literal text, or ANY for "" and
// "*", NA for "-". Spaces become "_", as NVD spells names.
func StrValue(text string) Value {
	switch text {
	case "", "*":
		return AnyValue
	case "-":
		return NAValue
	}
	return Value{Kind: Str, V: Quote(strings.ReplaceAll(text, " ", "_"))}
}

// String returns the name in the 2.3 formatted-string binding.
func (n Name) String() string { return n.FormatFS() }

// FormatFS returns the name in the 2.3 formatted-string binding, with every
// one of the eleven attributes present.
func (n Name) FormatFS() string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString("cpe:2.3")
	for _, v := range n {
		b.WriteByte(':')
		bindFS(&b, v)
	}
	return b.String()
}

func bindFS(b *strings.Builder, v Value) {
	switch v.Kind {
	case Any:
		b.WriteByte('*')
		return
	case NA:
		b.WriteByte('-')
		return
	}
	if v.V == `\-` {
		b.WriteString(`\-`)
		return
	}
	s := v.V
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			n := s[i+1]
			if n == '.' || n == '-' || n == '_' {
				b.WriteByte(n)
			} else {
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i++
			continue
		}
		b.WriteByte(c)
	}
}

// FormatURI returns the name in the 2.2 URI binding, with trailing ANY
// components left out (cpe:/a:oclc:oaicat) and the 2.3 extended attributes
// packed into the edition component with "~".
func (n Name) FormatURI() string {
	comps := make([]string, 0, 7)
	for a := Part; a <= Language; a++ {
		if a == Edition {
			comps = append(comps, n.packEdition())
			continue
		}
		comps = append(comps, bindURI(n[a]))
	}
	for len(comps) > 0 && comps[len(comps)-1] == "" {
		comps = comps[:len(comps)-1]
	}
	return "cpe:/" + strings.Join(comps, ":")
}

func (n Name) packEdition() string {
	if n[SWEdition].Kind == Any && n[TargetSW].Kind == Any && n[TargetHW].Kind == Any && n[Other].Kind == Any {
		return bindURI(n[Edition])
	}
	return "~" + bindURI(n[Edition]) + "~" + bindURI(n[SWEdition]) + "~" + bindURI(n[TargetSW]) +
		"~" + bindURI(n[TargetHW]) + "~" + bindURI(n[Other])
}

func bindURI(v Value) string {
	switch v.Kind {
	case Any:
		return ""
	case NA:
		return "-"
	}
	if v.V == `\-` {
		return "%2d"
	}
	var b strings.Builder
	s := v.V
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			c = s[i]
			if c == '.' || c == '-' || c == '_' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02x", c)
			}
		case c == '?':
			b.WriteString("%01")
		case c == '*':
			b.WriteString("%02")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func parseURI(s string) (Name, error) {
	var n Name
	comps := strings.Split(s, ":")
	if len(comps) > 7 {
		return Name{}, syntaxErr("more than 7 components in a 2.2 URI")
	}
	for i, c := range comps {
		a := Attribute(i)
		if a == Edition && strings.HasPrefix(c, "~") {
			parts := strings.Split(c[1:], "~")
			if len(parts) != 5 {
				return Name{}, syntaxErr("packed edition %q needs 5 parts", truncate(c))
			}
			for j, p := range parts {
				v, err := unbindURI(p)
				if err != nil {
					return Name{}, err
				}
				n[[]Attribute{Edition, SWEdition, TargetSW, TargetHW, Other}[j]] = v
			}
			continue
		}
		v, err := unbindURI(c)
		if err != nil {
			return Name{}, fmt.Errorf("%w (%s)", err, a)
		}
		n[a] = v
	}
	if err := checkPart(n[Part]); err != nil {
		return Name{}, err
	}
	return n, nil
}

func unbindURI(s string) (Value, error) {
	switch s {
	case "":
		return AnyValue, nil
	case "-":
		return NAValue, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return Value{}, syntaxErr("truncated percent-encoding in %q", truncate(s))
			}
			h, ok := unhex(s[i+1], s[i+2])
			if !ok {
				return Value{}, syntaxErr("bad percent-encoding in %q", truncate(s))
			}
			i += 2
			switch h {
			case 0x01:
				b.WriteByte('?')
			case 0x02:
				b.WriteByte('*')
			default:
				if h < 0x21 || h > 0x7e {
					return Value{}, syntaxErr("character %#x not allowed in %q", h, truncate(s))
				}
				writeQuoted(&b, lower(h))
			}
			continue
		}
		if c < 0x21 || c > 0x7e {
			return Value{}, syntaxErr("character %q not allowed in %q", rune(c), truncate(s))
		}
		writeQuoted(&b, lower(c))
	}
	v := Value{Kind: Str, V: b.String()}
	if v.V == "*" {
		return AnyValue, nil
	}
	if err := checkWildcards(v.V); err != nil {
		return Value{}, err
	}
	return v, nil
}

// checkWildcards enforces the FS rules for unquoted "*" and "?" on a
// WFN-quoted string.
func checkWildcards(v string) error {
	if v == "*" {
		return nil
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*':
			if i != 0 && i != len(v)-1 {
				return syntaxErr("wildcard * inside %q", truncate(v))
			}
		case '?':
			if !questionAtEdge(v, i) {
				return syntaxErr("wildcard ? inside %q", truncate(v))
			}
		}
	}
	if len(v) >= 2 && strings.HasSuffix(v, "**") && !escapedAt(v, len(v)-2) {
		return syntaxErr("two wildcards in %q", truncate(v))
	}
	return nil
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
