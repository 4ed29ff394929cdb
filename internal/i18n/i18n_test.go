package i18n

import (
	"testing"
	"time"
)

func TestCatalogsComplete(t *testing.T) {
	c := MustLoad()
	for _, k := range c.Keys("ja") {
		if !c.Has("en", k) {
			t.Errorf("key %q has no English text", k)
		}
	}
	for _, k := range c.Keys("en") {
		if !c.Has("ja", k) {
			t.Errorf("key %q has no Japanese text", k)
		}
	}
}

func TestFiscalYear(t *testing.T) {
	cases := []struct {
		t    time.Time
		fy   int
		ja   string
		date string
	}{
		{time.Date(2026, 11, 30, 12, 0, 0, 0, Tokyo), 2026, "令和8年度", "2026年11月30日（令和8年）"},
		{time.Date(2027, 3, 31, 23, 0, 0, 0, Tokyo), 2026, "令和8年度", "2027年3月31日（令和9年）"},
		{time.Date(2019, 4, 30, 0, 0, 0, 0, Tokyo), 2019, "令和元年度", "2019年4月30日（平成31年）"},
		{time.Date(2019, 5, 1, 0, 0, 0, 0, Tokyo), 2019, "令和元年度", "2019年5月1日（令和元年）"},
		{time.Date(2018, 6, 1, 0, 0, 0, 0, Tokyo), 2018, "平成30年度", "2018年6月1日（平成30年）"},
		// 2026-03-31 20:00 UTC is already 1 April in Tokyo.
		{time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC), 2026, "令和8年度", "2026年4月1日（令和8年）"},
	}
	for _, c := range cases {
		if got := FiscalYear(c.t); got != c.fy {
			t.Errorf("FiscalYear(%v) = %d, want %d", c.t, got, c.fy)
		}
		if got := FiscalYearLabel("ja", FiscalYear(c.t)); got != c.ja {
			t.Errorf("FiscalYearLabel(%d) = %q, want %q", c.fy, got, c.ja)
		}
		if got := Date("ja", c.t); got != c.date {
			t.Errorf("Date(%v) = %q, want %q", c.t, got, c.date)
		}
	}
	if got := FiscalYearLabel("en", 2026); got != "FY2026" {
		t.Errorf("en label %q", got)
	}
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "ja",
		"en-US,en;q=0.9":            "en",
		"fr-FR, en;q=0.5, ja;q=0.8": "ja",
		"ja":                        "ja",
		"de":                        "ja",
		"EN":                        "en",
		"en;q=0.1, ja;q=0.2":        "ja",
	} {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumber(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", -1234567: "-1,234,567"} {
		if got := Number(n); got != want {
			t.Errorf("Number(%d) = %q, want %q", n, got, want)
		}
	}
}
