package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Tokyo is Japan Standard Time, the zone medisac shows times in.
var Tokyo = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return l
	}
	return time.FixedZone("JST", 9*60*60)
}()

type era struct {
	name, abbr string
	start      time.Time
}

var eras = []era{
	{"令和", "R", time.Date(2019, 5, 1, 0, 0, 0, 0, Tokyo)},
	{"平成", "H", time.Date(1989, 1, 8, 0, 0, 0, 0, Tokyo)},
	{"昭和", "S", time.Date(1926, 12, 25, 0, 0, 0, 0, Tokyo)},
}

// Wareki returns the Japanese era name and year of a date ("令和", 8).
// Dates before 昭和 return ("", Gregorian year).
func Wareki(t time.Time) (string, int) {
	t = t.In(Tokyo)
	for _, e := range eras {
		if !t.Before(e.start) {
			return e.name, t.Year() - e.start.Year() + 1
		}
	}
	return "", t.Year()
}

func eraYear(name string, y int) string {
	if y == 1 {
		return name + "元年"
	}
	return name + strconv.Itoa(y) + "年"
}

// FiscalYear returns the Japanese fiscal year (April to March) a time falls
// in, as a Gregorian year: 2027-03-31 is in fiscal year 2026.
func FiscalYear(t time.Time) int {
	t = t.In(Tokyo)
	if t.Month() < time.April {
		return t.Year() - 1
	}
	return t.Year()
}

// FiscalYearLabel names a fiscal year: "令和8年度" in Japanese, "FY2026" in
// English. The era is the one in force on 1 April of that year, except that
// fiscal year 2019 is called 令和元年度 as the government does.
func FiscalYearLabel(lang string, fy int) string {
	if lang != "ja" {
		return "FY" + strconv.Itoa(fy)
	}
	d := time.Date(fy, 4, 1, 0, 0, 0, 0, Tokyo)
	if fy == 2019 {
		d = time.Date(2019, 5, 1, 0, 0, 0, 0, Tokyo)
	}
	name, y := Wareki(d)
	if name == "" {
		return strconv.Itoa(fy) + "年度"
	}
	return strings.TrimSuffix(eraYear(name, y), "年") + "年度"
}

// Date formats a date for lang in Tokyo time: "2026年11月30日（令和8年）" in
// Japanese, "30 Nov 2026" in English. The zero time formats as "—".
func Date(lang string, t time.Time) string {
	return inTokyo(lang, t, "2 Jan 2006", func(t time.Time) string {
		name, y := Wareki(t)
		return fmt.Sprintf("%d年%d月%d日（%s）", t.Year(), int(t.Month()), t.Day(), eraYear(name, y))
	})
}

// DateTime formats a time for lang in Tokyo time, to the minute.
func DateTime(lang string, t time.Time) string {
	return inTokyo(lang, t, "2 Jan 2006 15:04 JST", func(t time.Time) string {
		return fmt.Sprintf("%d年%d月%d日 %s", t.Year(), int(t.Month()), t.Day(), t.Format("15:04"))
	})
}

// inTokyo formats t in Tokyo time: with the layout en for English, with
// ja for Japanese; the zero time as "—".
func inTokyo(lang string, t time.Time, en string, ja func(time.Time) string) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(Tokyo)
	if lang != "ja" {
		return t.Format(en)
	}
	return ja(t)
}

// Number formats an integer with thousands separators (both languages use
// commas): 100000 → "100,000".
func Number(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
