package csvsafe

import "testing"

func TestCell(t *testing.T) {
	cases := map[string]string{
		"":                               "",
		"CT装置":                           "CT装置",
		"=HYPERLINK(\"http://x\",\"y\")": "'=HYPERLINK(\"http://x\",\"y\")",
		"=1+1":                           "'=1+1",
		"+1+cmd|' /C calc'!A0":           "'+1+cmd|' /C calc'!A0",
		"-2+3":                           "'-2+3",
		"@SUM(A1:A2)":                    "'@SUM(A1:A2)",
		"\t=1":                           "'\t=1",
		"\r=1":                           "'\r=1",
		"＝1+1":                           "'＝1+1",
		"＋1":                             "'＋1",
		"－1":                             "'－1",
		"＠A1":                            "'＠A1",
		"-1":                             "-1",
		"+81":                            "+81",
		"-0.5":                           "-0.5",
		"-1.":                            "'-1.",
		"-.5":                            "'-.5",
		"-1e3":                           "'-1e3",
		"-":                              "'-",
		"+81-3-1234-5678":                "'+81-3-1234-5678",
		"-1,2":                           "'-1,2",
		"a=1":                            "a=1",
		" =1":                            " =1",
		"'=1":                            "''=1",
		"'abc":                           "'abc",
		"2026-04-01":                     "2026-04-01",
		"192.168.1.10":                   "192.168.1.10",
		"CVE-2024-0001":                  "CVE-2024-0001",
		"-1\n=2":                         "'-1\n=2",
	}
	for in, want := range cases {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
		if got := Unquote(Cell(in)); got != in {
			t.Errorf("Unquote(Cell(%q)) = %q", in, got)
		}
	}
	row := Row([]string{"=a", "b", "-3"})
	if row[0] != "'=a" || row[1] != "b" || row[2] != "-3" {
		t.Errorf("Row: %q", row)
	}
}
