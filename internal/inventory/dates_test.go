package inventory

import (
	"strconv"
	"testing"
)

func TestParseDate(t *testing.T) {
	cases := []struct {
		in     string
		serial bool
		want   Date
		bad    bool
	}{
		{"", false, "", false},
		{"R8.3.31", false, "2026-03-31", false},
		{"r8/3/31", false, "2026-03-31", false},
		{"R8-03-31", false, "2026-03-31", false},
		{"令和8年3月31日", false, "2026-03-31", false},
		{"令和 8 年 3 月 31 日", false, "2026-03-31", false},
		{"令和元年5月1日", false, "2019-05-01", false},
		{"R1.4.30", false, "", true},
		{"H31.4.30", false, "2019-04-30", false},
		{"平成31年4月30日", false, "2019-04-30", false},
		{"H32.3.31", false, "2020-03-31", false},
		{"S64.1.7", false, "1989-01-07", false},
		{"H1.1.7", false, "", true},
		{"H1.1.8", false, "1989-01-08", false},
		{"Ｒ８．３．３１", false, "2026-03-31", false},
		{"2026/3/31", false, "2026-03-31", false},
		{"2026-03-31", false, "2026-03-31", false},
		{"2026.3.31", false, "2026-03-31", false},
		{"2026年3月31日", false, "2026-03-31", false},
		{"２０２６／３／３１", false, "2026-03-31", false},
		{"20260331", false, "2026-03-31", false},
		{"2026-03-31 00:00:00", false, "2026-03-31", false},
		{"2026-03-31T09:00:00Z", false, "2026-03-31", false},
		{"2026/2/29", false, "", true},
		{"2028/2/29", false, "2028-02-29", false},
		{"R8.2.30", false, "", true},
		{"2026/13/1", false, "", true},
		{"R0.1.1", false, "", true},
		{"X8.3.31", false, "", true},
		{"来年", false, "", true},
		{"46112", false, "", true},
		{"46112", true, "2026-03-31", false},
		{"46112.5", true, "2026-03-31", false},
		{"1", true, "1900-01-01", false},
		{"59", true, "1900-02-28", false},
		{"60", true, "", true},
		{"61", true, "1900-03-01", false},
		{"0", true, "", true},
		{"99999999", true, "", true},
	}
	for _, tc := range cases {
		got, err := parseDateCell(tc.in, tc.serial)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: got %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q (serial %v): got %q, %v; want %q", tc.in, tc.serial, got, err, tc.want)
		}
	}
	for _, d := range []Date{"2026-03-31", "1900-01-01", "1900-03-01", "2019-05-01"} {
		n := ExcelSerial(d)
		back, err := parseDateCell(itoaInt(n), true)
		if err != nil || back != d {
			t.Errorf("serial round trip %s → %d → %s %v", d, n, back, err)
		}
	}
}

func itoaInt(n int) string { return strconv.Itoa(n) }

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"R8.3.31", "令和元年5月1日", "2026/3/31", "46112", "H31.4.30", "２０２６／３／３１", "2026-03-31T09:00:00Z"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, serial bool) {
		d, err := parseDateCell(s, serial)
		if err == nil && !d.Valid() {
			t.Fatalf("%q gave invalid date %q", s, d)
		}
	})
}
