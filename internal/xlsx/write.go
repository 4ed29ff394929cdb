package xlsx

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SheetData is one worksheet to write: optional rows above the header
// (titles), a header row (bold, frozen) and rows of text cells.
type SheetData struct {
	Name string
	// Above are rows written before the header, without style.
	Above  [][]string
	Header []string
	Rows   [][]string
	// Widths are column widths in characters (optional; 0 keeps the
	// default width of that column).
	Widths []float64
	// HeaderFill is the header's background colour as RGB hex ("E6ECF5");
	// empty leaves it unfilled.
	HeaderFill string
	// Wrap lists the 0-based columns whose body cells wrap their text
	// and align to the top.
	Wrap []int
}

// styles is the cell formats of one workbook: 0 plain, 1 bold, 2 wrapped
// and top-aligned, then one bold format per header fill colour.
type styles struct {
	fills []string
}

const (
	stylePlain = 0
	styleBold  = 1
	styleWrap  = 2
)

// header returns the format of a header cell on fill (or none).
func (st *styles) header(fill string) int {
	if fill == "" {
		return styleBold
	}
	for i, f := range st.fills {
		if f == fill {
			return 3 + i
		}
	}
	st.fills = append(st.fills, fill)
	return 3 + len(st.fills) - 1
}

func (st *styles) xml() string {
	var b strings.Builder
	b.WriteString(xml.Header + `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="Yu Gothic"/></font><font><b/><sz val="11"/><name val="Yu Gothic"/></font></fonts>`)
	fmt.Fprintf(&b, `<fills count="%d"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>`, 2+len(st.fills))
	for _, f := range st.fills {
		fmt.Fprintf(&b, `<fill><patternFill patternType="solid"><fgColor rgb="FF%s"/><bgColor indexed="64"/></patternFill></fill>`, f)
	}
	fmt.Fprintf(&b, `</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="%d"><xf fontId="0"/><xf fontId="1" applyFont="1"/><xf fontId="0" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>`, 3+len(st.fills))
	for i := range st.fills {
		fmt.Fprintf(&b, `<xf fontId="1" fillId="%d" applyFont="1" applyFill="1"/>`, 2+i)
	}
	b.WriteString(`</cellXfs></styleSheet>`)
	return b.String()
}

// validFill reports whether s is six hex digits.
func validFill(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Write writes a workbook with the given sheets to w. Every cell is
// written as an inline string, so values such as "0012" or "2026-03-31"
// keep their exact text.
func Write(w io.Writer, sheets []SheetData) error {
	zw := zip.NewWriter(w)
	put := func(name, body string) error {
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, body)
		return err
	}
	var ct, wb, rels strings.Builder
	ct.WriteString(xml.Header + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>`)
	wb.WriteString(xml.Header + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>`)
	rels.WriteString(xml.Header + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	var st styles
	head := make([]int, len(sheets))
	for i, s := range sheets {
		if s.HeaderFill != "" && !validFill(s.HeaderFill) {
			return fmt.Errorf("xlsx: header fill %q is not RGB hex", s.HeaderFill)
		}
		head[i] = st.header(s.HeaderFill)
		n := strconv.Itoa(i + 1)
		fmt.Fprintf(&ct, `<Override PartName="/xl/worksheets/sheet%s.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, n)
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%s" r:id="rId%s"/>`, EscapeXML(sheetName(s.Name)), n, n)
		fmt.Fprintf(&rels, `<Relationship Id="rId%s" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%s.xml"/>`, n, n)
	}
	ct.WriteString(`</Types>`)
	wb.WriteString(`</sheets></workbook>`)
	fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`, len(sheets)+1)
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", ct.String()},
		{"_rels/.rels", xml.Header + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", wb.String()},
		{"xl/_rels/workbook.xml.rels", rels.String()},
		{"xl/styles.xml", st.xml()},
	}
	for _, p := range parts {
		if err := put(p.name, p.body); err != nil {
			return err
		}
	}
	for i, s := range sheets {
		f, err := zw.Create("xl/worksheets/sheet" + strconv.Itoa(i+1) + ".xml")
		if err != nil {
			return err
		}
		if err := writeSheet(f, s, head[i]); err != nil {
			return err
		}
	}
	return zw.Close()
}

func writeSheet(w io.Writer, s SheetData, headStyle int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	hr := len(s.Above) + 1
	fmt.Fprintf(bw, xml.Header+`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="%d" topLeftCell="A%d" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>`, hr, hr+1)
	cols := false
	for i, wd := range s.Widths {
		if wd <= 0 {
			continue
		}
		if !cols {
			bw.WriteString("<cols>")
			cols = true
		}
		fmt.Fprintf(bw, `<col min="%d" max="%d" width="%g" customWidth="1"/>`, i+1, i+1, wd)
	}
	if cols {
		bw.WriteString("</cols>")
	}
	bw.WriteString("<sheetData>")
	for i, r := range s.Above {
		writeRow(bw, i+1, r, func(int) int { return stylePlain })
	}
	writeRow(bw, hr, s.Header, func(int) int { return headStyle })
	wrap := map[int]bool{}
	for _, c := range s.Wrap {
		wrap[c] = true
	}
	body := func(c int) int {
		if wrap[c] {
			return styleWrap
		}
		return stylePlain
	}
	for i, r := range s.Rows {
		writeRow(bw, hr+1+i, r, body)
	}
	bw.WriteString("</sheetData></worksheet>")
	return bw.Flush()
}

func writeRow(bw *bufio.Writer, n int, cells []string, style func(col int) int) {
	fmt.Fprintf(bw, `<row r="%d">`, n)
	for i, c := range cells {
		if c == "" {
			continue
		}
		ref := colName(i) + strconv.Itoa(n)
		if st := style(i); st > 0 {
			fmt.Fprintf(bw, `<c r="%s" s="%d" t="inlineStr"><is><t xml:space="preserve">`, ref, st)
		} else {
			fmt.Fprintf(bw, `<c r="%s" t="inlineStr"><is><t xml:space="preserve">`, ref)
		}
		bw.WriteString(EscapeXML(c))
		bw.WriteString("</t></is></c>")
	}
	bw.WriteString("</row>")
}

// colName turns a 0-based column index into its letters (0 → A, 27 → AB).
func colName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// EscapeXML escapes text for XML and drops characters XML 1.0 cannot hold
// (the register overview drawing uses it too).
func EscapeXML(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sheetName makes s a valid Excel sheet name (max 31 characters, no []:*?/\).
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 31 {
		s = string(r[:31])
	}
	if s == "" {
		s = "Sheet"
	}
	return s
}
