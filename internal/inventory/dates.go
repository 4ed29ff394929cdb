package inventory

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrBadDate is returned by ParseDate for text that is not a date.
var ErrBadDate = errors.New("inventory: not a date")

type era struct {
	start time.Time
}

var eras = map[string]era{
	"明治": {time.Date(1868, 1, 25, 0, 0, 0, 0, time.UTC)},
	"大正": {time.Date(1912, 7, 30, 0, 0, 0, 0, time.UTC)},
	"昭和": {time.Date(1926, 12, 25, 0, 0, 0, 0, time.UTC)},
	"平成": {time.Date(1989, 1, 8, 0, 0, 0, 0, time.UTC)},
	"令和": {time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)},
}

var eraLetters = map[string]string{"m": "明治", "t": "大正", "s": "昭和", "h": "平成", "r": "令和"}

var (
	warekiRE  = regexp.MustCompile(`^(明治|大正|昭和|平成|令和|[mtshr])\s*(元|\d{1,2})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?$`)
	seirekiRE = regexp.MustCompile(`^(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?$`)
	compactRE = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$`)
	serialRE  = regexp.MustCompile(`^\d{1,7}(?:\.\d+)?$`)
)

// ParseDate reads a calendar date written as 和暦 (R8.3.31, R8/3/31,
// 令和8年3月31日, 令和元年5月1日, H31.4.30, 平成31年4月30日, S64.1.7) or
// 西暦 (2026/3/31, 2026-03-31, 2026.3.31, 2026年3月31日, 20260331, with an
// optional time of day that is ignored). Full-width digits are accepted.
// Empty text is the unknown date "". A 和暦 date before the start of its
// era, or a day that does not exist, is ErrBadDate; a year past the end of
// an era (平成32年) is accepted because people still write it.
func ParseDate(s string) (Date, error) {
	return parseDateCell(s, false)
}

// parseDateCell is ParseDate that also reads an Excel serial day number
// (days since 1899-12-30) when serial is true, as xlsx numeric cells hold.
func parseDateCell(s string, serial bool) (Date, error) {
	s = strings.ToLower(strings.TrimSpace(toHalfWidth(s)))
	if s == "" {
		return "", nil
	}
	if m := warekiRE.FindStringSubmatch(s); m != nil {
		name := m[1]
		if l, ok := eraLetters[name]; ok {
			name = l
		}
		n := 1
		if m[2] != "元" {
			n, _ = strconv.Atoi(m[2])
		}
		if n < 1 {
			return "", ErrBadDate
		}
		e := eras[name]
		y := e.start.Year() + n - 1
		d, ok := mkDate(y, m[3], m[4])
		if !ok || d.Before(e.start) {
			return "", ErrBadDate
		}
		return Date(d.Format("2006-01-02")), nil
	}
	if m := seirekiRE.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		d, ok := mkDate(y, m[2], m[3])
		if !ok {
			return "", ErrBadDate
		}
		return Date(d.Format("2006-01-02")), nil
	}
	if m := compactRE.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		d, ok := mkDate(y, m[2], m[3])
		if !ok {
			return "", ErrBadDate
		}
		return Date(d.Format("2006-01-02")), nil
	}
	if serial && serialRE.MatchString(s) {
		f, err := strconv.ParseFloat(s, 64)
		// 1 = 1900-01-01 .. 2958465 = 9999-12-31; Excel's fictitious
		// 1900-02-29 (60) is not a date.
		if err != nil || f < 1 || f >= 2958466 || math.Floor(f) == 60 {
			return "", ErrBadDate
		}
		d := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(math.Floor(f)))
		if f < 60 {
			d = d.AddDate(0, 0, 1)
		}
		return Date(d.Format("2006-01-02")), nil
	}
	return "", ErrBadDate
}

// ExcelSerial returns the Excel serial day number of d (0 for "").
func ExcelSerial(d Date) int {
	t, err := time.Parse("2006-01-02", string(d))
	if err != nil {
		return 0
	}
	n := int(t.Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	if n < 61 {
		n--
	}
	return n
}

func mkDate(y int, ms, ds string) (time.Time, bool) {
	m, _ := strconv.Atoi(ms)
	d, _ := strconv.Atoi(ds)
	if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Month() != time.Month(m) || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// toHalfWidth turns full-width ASCII (ＡＢＣ１２３／．－) and the
// ideographic space into their ASCII forms.
func toHalfWidth(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		case r == 'ー' || r == '−' || r == '‐':
			r = '-'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
