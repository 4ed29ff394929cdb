package xlsx

import (
	"archive/zip"
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

func zipPart(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no %s in the workbook", name)
	return ""
}

// TestWriteStyles: title rows come above the header, which is bold on its
// fill and frozen; wrapped columns carry the wrapped, top-aligned format;
// zero widths leave a column alone; the reader reads it all back.
func TestWriteStyles(t *testing.T) {
	data := xlsxOf(t,
		SheetData{Name: "チェックリスト", Above: [][]string{{"題名"}, {"施設名：みなと病院", "", "", "対象年度：令和7年度"}, nil},
			Header: []string{"区分", "No.", "項目"}, HeaderFill: "E6ECF5", Wrap: []int{2},
			Rows: [][]string{{"経営", "1", "長い\n項目"}}, Widths: []float64{18, 0, 60}},
		SheetData{Name: "証跡", Header: []string{"No."}, Rows: [][]string{{"1"}}},
	)
	sheets, err := Read(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := sheets[0].Rows
	if len(r) != 5 || r[0][0].V != "題名" || r[1][3].V != "対象年度：令和7年度" || len(r[2]) != 0 || r[3][2].V != "項目" || r[4][2].V != "長い\n項目" {
		t.Fatalf("rows %+v", r)
	}
	styles := zipPart(t, data, "xl/styles.xml")
	if !strings.Contains(styles, `<fgColor rgb="FFE6ECF5"/>`) || !strings.Contains(styles, `<alignment vertical="top" wrapText="1"/>`) ||
		!strings.Contains(styles, `<xf fontId="1" fillId="2" applyFont="1" applyFill="1"/>`) || !strings.Contains(styles, `cellXfs count="4"`) {
		t.Errorf("styles %s", styles)
	}
	s1 := zipPart(t, data, "xl/worksheets/sheet1.xml")
	for _, want := range []string{`<pane ySplit="4" topLeftCell="A5"`, `<c r="A4" s="3" t="inlineStr">`, `<c r="C4" s="3" t="inlineStr">`, `<c r="C5" s="2" t="inlineStr">`, `<c r="A5" t="inlineStr">`, `<c r="A1" t="inlineStr">`,
		`<col min="1" max="1" width="18" customWidth="1"/><col min="3" max="3" width="60" customWidth="1"/>`} {
		if !strings.Contains(s1, want) {
			t.Errorf("sheet 1 lacks %s", want)
		}
	}
	if regexp.MustCompile(`<col min="2"`).MatchString(s1) {
		t.Error("a zero width was written")
	}
	s2 := zipPart(t, data, "xl/worksheets/sheet2.xml")
	if !strings.Contains(s2, `<c r="A1" s="1" t="inlineStr">`) || strings.Contains(s2, "<cols>") {
		t.Errorf("sheet 2 %s", s2)
	}
	var buf bytes.Buffer
	if err := Write(&buf, []SheetData{{Name: "x", HeaderFill: "red"}}); err == nil {
		t.Error("a fill that is not RGB hex was written")
	}
}
