// Package csvsafe keeps the text of CSV exports from being run as
// formulas when the file is opened in a spreadsheet (CSV injection).
//
// The rule, after OWASP's "CSV Injection" advice: a cell that begins with
// = + - @, a tab or a carriage return, or with the full-width ＝ ＋ － ＠
// that Japanese spreadsheets also read as formula starts, is written with a
// leading apostrophe ('), which spreadsheets take as "this is text" and do
// not show. The one exception is a plain number with a sign, such as -1,
// +81 or -0.5 (a sign, digits, at most one decimal point and digits): a
// spreadsheet reads it as that number, it cannot call a function or refer
// to another cell or file, and an apostrophe would turn it into text.
// Every CSV export of medisac (the inventory register, the audit trail,
// the vulnerability findings of the command line) writes its cells
// through Cell.
package csvsafe

import "strings"

// Cell returns s as it must be written into a CSV cell.
func Cell(s string) string {
	if needs(s) {
		return "'" + s
	}
	return s
}

// Row applies Cell to every cell of row, in place, and returns row.
func Row(row []string) []string {
	for i, s := range row {
		row[i] = Cell(s)
	}
	return row
}

// Unquote undoes Cell for a cell read back from an exported file: a
// leading apostrophe before a formula start (or before apostrophes and
// one) is removed, anything else is returned as it is.
func Unquote(s string) string {
	if strings.HasPrefix(s, "'") && needs(s[1:]) {
		return s[1:]
	}
	return s
}

// needs reports whether Cell prefixes s: a formula start that is not a
// plain number, or apostrophes before one (so that Unquote gives back
// exactly what Cell was given).
func needs(s string) bool {
	for strings.HasPrefix(s, "'") {
		s = s[1:]
	}
	return risky(s) && !plainNumber(s)
}

func risky(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	for _, p := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// plainNumber reports whether s is a sign, then digits with at most one
// decimal point, and nothing else.
func plainNumber(s string) bool {
	if len(s) < 2 || (s[0] != '-' && s[0] != '+') {
		return false
	}
	digits, dot := 0, false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i+1 < len(s):
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
