package xlsx

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits bound what Read accepts, against zip bombs and huge
// workbooks. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxEntries      int   // zip entries
	MaxUncompressed int64 // bytes actually inflated, over all entries read
	MaxRatio        int64 // uncompressed/compressed size of one entry
	MaxRows         int   // rows per sheet
	MaxCols         int   // columns per row
	// MaxCellChars is the most characters one cell (a shared string, an
	// inline string or a value) may hold: Excel's own cell limit.
	MaxCellChars int
	// MaxTextBytes is the most bytes of cell text held in memory: the
	// shared strings together with the inline strings of every sheet.
	MaxTextBytes int64
	// MaxCells is the most cells kept over all sheets, counting the empty
	// cells before a cell further right in its row.
	MaxCells int
	// MaxToken is the most bytes of XML between two '<' that are read:
	// the XML decoder holds a text run or a tag whole before it returns
	// it, so this bounds its memory whatever a cell claims.
	MaxToken int64
}

// MaxCellChars is Excel's own limit of characters in one cell.
const MaxCellChars = 32767

// DefaultLimits are the limits used for imports.
var DefaultLimits = Limits{MaxEntries: 1000, MaxUncompressed: 512 << 20, MaxRatio: 250, MaxRows: 200000, MaxCols: 200,
	MaxCellChars: MaxCellChars, MaxTextBytes: 64 << 20, MaxCells: 8_000_000, MaxToken: 512 << 10}

// orDefaults returns l with every zero limit set to that of DefaultLimits.
func (l Limits) orDefaults() Limits {
	v, d := reflect.ValueOf(&l).Elem(), reflect.ValueOf(DefaultLimits)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			v.Field(i).Set(d.Field(i))
		}
	}
	return l
}

// ErrLimit is returned (wrapped) when a workbook exceeds Limits.
var ErrLimit = errors.New("xlsx: workbook exceeds limits")

// ErrCellTooLong is returned (wrapped) when one cell holds more than
// MaxCellChars characters; it also wraps ErrLimit.
var ErrCellTooLong = fmt.Errorf("%w: a cell is too long", ErrLimit)

// ErrTextTooLarge is returned (wrapped) when the text of all cells
// is more than MaxTextBytes; it also wraps ErrLimit.
var ErrTextTooLarge = fmt.Errorf("%w: too much cell text", ErrLimit)

// ErrNotXLSX is returned (wrapped) when the bytes are not a readable .xlsx
// workbook.
var ErrNotXLSX = errors.New("xlsx: not an xlsx workbook")

// Cell is one cell value as text; Num says the cell was stored as a number
// (so a date column may hold an Excel serial day).
type Cell struct {
	V   string
	Num bool
}

// Sheet is one worksheet: its name and its rows of cells (row 1 first;
// missing cells are empty).
type Sheet struct {
	Name string
	Rows [][]Cell
}

type xlsxReader struct {
	zr    *zip.Reader
	lim   Limits
	total int64
	// text counts the bytes of cell text held (see MaxTextBytes).
	text int64
	// cells counts the cells kept (see MaxCells).
	cells int
}

// Read reads the sheets of an .xlsx workbook with archive/zip and
// encoding/xml only. It refuses archives with too many entries, entries
// that inflate too much (absolute and by ratio), documents with a DOCTYPE
// and sheets with too many rows or columns; formulas are read as their
// cached values.
func Read(data []byte, lim Limits) ([]Sheet, error) {
	lim = lim.orDefaults()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotXLSX, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrLimit, len(zr.File))
	}
	var declared uint64
	for _, f := range zr.File {
		declared += f.UncompressedSize64
		if declared > uint64(lim.MaxUncompressed) || f.UncompressedSize64 > uint64(max(int64(f.CompressedSize64)*lim.MaxRatio, 1<<20)) {
			return nil, fmt.Errorf("%w: %s inflates too much", ErrLimit, f.Name)
		}
	}
	r := &xlsxReader{zr: zr, lim: lim}
	names, targets, err := r.workbook()
	if err != nil {
		return nil, err
	}
	shared, err := r.sharedStrings()
	if err != nil {
		return nil, err
	}
	var out []Sheet
	for i, name := range names {
		rows, err := r.sheet(targets[i], shared)
		if err != nil {
			return nil, fmt.Errorf("sheet %s: %w", name, err)
		}
		out = append(out, Sheet{Name: name, Rows: rows})
	}
	return out, nil
}

func (r *xlsxReader) find(name string) *zip.File {
	for _, f := range r.zr.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

type countingReader struct {
	r   io.Reader
	rd  *xlsxReader
	max int64
	n   int64
	// run counts the bytes since the last '<'.
	run int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.rd.total += int64(n)
	if c.rd.total > c.rd.lim.MaxUncompressed || c.n > c.max {
		return n, fmt.Errorf("%w: entry inflates too much", ErrLimit)
	}
	if i := bytes.LastIndexByte(p[:n], '<'); i >= 0 {
		c.run = int64(n - i - 1)
	} else {
		c.run += int64(n)
	}
	if c.run > c.rd.lim.MaxToken {
		// A text run this long is longer than any cell may be; refuse it
		// before the XML decoder buffers it.
		return 0, fmt.Errorf("%w: more than %d bytes without markup", ErrCellTooLong, c.rd.lim.MaxToken)
	}
	return n, err
}

// open returns a decoder over a zip entry that counts inflated bytes.
func (r *xlsxReader) open(name string) (*xml.Decoder, io.Closer, error) {
	f := r.find(name)
	if f == nil {
		return nil, nil, nil
	}
	max := int64(f.CompressedSize64) * r.lim.MaxRatio
	if max < 1<<20 {
		max = 1 << 20
	}
	if f.UncompressedSize64 > uint64(max) || int64(f.UncompressedSize64) > r.lim.MaxUncompressed {
		return nil, nil, fmt.Errorf("%w: %s declares %d bytes", ErrLimit, name, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotXLSX, err)
	}
	dec := xml.NewDecoder(&countingReader{r: rc, rd: r, max: max})
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") {
			return in, nil
		}
		return nil, fmt.Errorf("%w: encoding %s", ErrNotXLSX, label)
	}
	return dec, rc, nil
}

// next returns the next token, refusing DOCTYPE declarations.
func next(dec *xml.Decoder) (xml.Token, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(xml.Directive); ok && len(d) > 0 {
		return nil, fmt.Errorf("%w: DOCTYPE not allowed", ErrNotXLSX)
	}
	return tok, nil
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (r *xlsxReader) workbook() (names, targets []string, err error) {
	rels := map[string]string{}
	dec, c, err := r.open("xl/_rels/workbook.xml.rels")
	if err != nil {
		return nil, nil, err
	}
	if dec == nil {
		return nil, nil, fmt.Errorf("%w: no workbook relationships", ErrNotXLSX)
	}
	for {
		tok, err := next(dec)
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Close()
			return nil, nil, wrapXML(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Relationship" {
			t := attr(se, "Target")
			if strings.HasPrefix(t, "/") {
				t = strings.TrimPrefix(t, "/")
			} else {
				t = path.Join("xl", t)
			}
			rels[attr(se, "Id")] = t
		}
	}
	c.Close()
	dec, c, err = r.open("xl/workbook.xml")
	if err != nil {
		return nil, nil, err
	}
	if dec == nil {
		return nil, nil, fmt.Errorf("%w: no workbook", ErrNotXLSX)
	}
	defer c.Close()
	for {
		tok, err := next(dec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, wrapXML(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sheet" {
			var id string
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			t, ok := rels[id]
			if !ok {
				return nil, nil, fmt.Errorf("%w: sheet without target", ErrNotXLSX)
			}
			names = append(names, attr(se, "name"))
			targets = append(targets, t)
		}
	}
	return names, targets, nil
}

func wrapXML(err error) error {
	if errors.Is(err, ErrLimit) || errors.Is(err, ErrNotXLSX) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrNotXLSX, err)
}

// readText collects the text of <t> elements inside the current element,
// skipping phonetic runs (<rPh>), until the element ends; it refuses text
// of more than MaxCellChars characters and counts what it keeps against
// MaxTextBytes.
func (r *xlsxReader) readText(dec *xml.Decoder) (string, error) {
	var b strings.Builder
	depth, inT, skip := 1, false, 0
	for depth > 0 {
		tok, err := next(dec)
		if err != nil {
			return "", wrapXML(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch t.Name.Local {
			case "rPh", "phoneticPr":
				skip++
			case "t":
				inT = skip == 0
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "rPh", "phoneticPr":
				skip--
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT {
				if err := r.cellText(b.Len(), t); err != nil {
					return "", err
				}
				b.Write(t)
			}
		}
	}
	return b.String(), r.hold(b.Len())
}

// cellText checks that adding t to a cell text of have bytes keeps it
// within MaxCellChars characters (a UTF-8 character is at least one byte,
// so a text of at most MaxCellChars bytes needs no counting).
func (r *xlsxReader) cellText(have int, t []byte) error {
	if have+len(t) <= r.lim.MaxCellChars {
		return nil
	}
	if have+len(t) > 4*r.lim.MaxCellChars {
		return fmt.Errorf("%w: more than %d characters", ErrCellTooLong, r.lim.MaxCellChars)
	}
	return nil
}

// hold counts n bytes of text kept in memory against MaxTextBytes.
func (r *xlsxReader) hold(n int) error {
	r.text += int64(n) + 16
	if r.text > r.lim.MaxTextBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrTextTooLarge, r.lim.MaxTextBytes)
	}
	return nil
}

// checkChars refuses a cell text of more than MaxCellChars characters.
func (r *xlsxReader) checkChars(s string) error {
	if len(s) > r.lim.MaxCellChars && utf8.RuneCountInString(s) > r.lim.MaxCellChars {
		return fmt.Errorf("%w: more than %d characters", ErrCellTooLong, r.lim.MaxCellChars)
	}
	return nil
}

func (r *xlsxReader) sharedStrings() ([]string, error) {
	dec, c, err := r.open("xl/sharedStrings.xml")
	if err != nil || dec == nil {
		return nil, err
	}
	defer c.Close()
	var out []string
	for {
		tok, err := next(dec)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, wrapXML(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "si" {
			s, err := r.readText(dec)
			if err == nil {
				err = r.checkChars(s)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
}

// colIndex turns "AB12" into column index 27 (0-based); -1 when malformed.
func colIndex(ref string) int {
	n := 0
	i := 0
	for ; i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z'; i++ {
		n = n*26 + int(ref[i]-'A') + 1
		if n > 16384 {
			return -1
		}
	}
	if i == 0 {
		return -1
	}
	return n - 1
}

func (r *xlsxReader) sheet(name string, shared []string) ([][]Cell, error) {
	dec, c, err := r.open(name)
	if err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, fmt.Errorf("%w: missing %s", ErrNotXLSX, name)
	}
	defer c.Close()
	var rows [][]Cell
	var cur []Cell
	inRow := false
	for {
		tok, err := next(dec)
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, wrapXML(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				idx := len(rows)
				if rn := attr(t, "r"); rn != "" {
					n, err := strconv.Atoi(rn)
					if err != nil || n < 1 || n <= len(rows) {
						return nil, fmt.Errorf("%w: bad row number %q", ErrNotXLSX, rn)
					}
					idx = n - 1
				}
				if idx >= r.lim.MaxRows {
					return nil, fmt.Errorf("%w: more than %d rows", ErrLimit, r.lim.MaxRows)
				}
				for len(rows) < idx {
					rows = append(rows, nil)
				}
				cur, inRow = nil, true
			case "c":
				if !inRow {
					return nil, fmt.Errorf("%w: cell outside row", ErrNotXLSX)
				}
				col := len(cur)
				if ref := attr(t, "r"); ref != "" {
					col = colIndex(ref)
					if col < len(cur) {
						return nil, fmt.Errorf("%w: bad cell reference %q", ErrNotXLSX, ref)
					}
				}
				if col >= r.lim.MaxCols {
					return nil, fmt.Errorf("%w: more than %d columns", ErrLimit, r.lim.MaxCols)
				}
				cell, err := r.readCell(dec, attr(t, "t"), shared)
				if err != nil {
					return nil, err
				}
				r.cells += col + 1 - len(cur)
				if r.cells > r.lim.MaxCells {
					return nil, fmt.Errorf("%w: more than %d cells", ErrLimit, r.lim.MaxCells)
				}
				for len(cur) < col {
					cur = append(cur, Cell{})
				}
				cur = append(cur, cell)
			}
		case xml.EndElement:
			if t.Name.Local == "row" && inRow {
				rows = append(rows, cur)
				cur, inRow = nil, false
			}
		}
	}
}

func (r *xlsxReader) readCell(dec *xml.Decoder, typ string, shared []string) (Cell, error) {
	var v strings.Builder
	var inline string
	depth, inV := 1, false
	for depth > 0 {
		tok, err := next(dec)
		if err != nil {
			return Cell{}, wrapXML(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "is" {
				s, err := r.readText(dec)
				if err == nil {
					err = r.checkChars(s)
				}
				if err != nil {
					return Cell{}, err
				}
				inline = s
				continue
			}
			depth++
			inV = t.Name.Local == "v" && depth == 2
		case xml.EndElement:
			depth--
			inV = false
		case xml.CharData:
			if inV {
				if err := r.cellText(v.Len(), t); err != nil {
					return Cell{}, err
				}
				v.Write(t)
			}
		}
	}
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v.String()))
		if err != nil || i < 0 || i >= len(shared) {
			return Cell{}, fmt.Errorf("%w: bad shared string index", ErrNotXLSX)
		}
		return Cell{V: shared[i]}, nil
	case "inlineStr":
		return Cell{V: inline}, nil
	case "b":
		if strings.TrimSpace(v.String()) == "1" {
			return Cell{V: "TRUE"}, nil
		}
		return Cell{V: "FALSE"}, nil
	case "str", "e", "d":
		if err := r.checkChars(v.String()); err != nil {
			return Cell{}, err
		}
		return Cell{V: v.String()}, r.hold(v.Len())
	}
	if err := r.checkChars(v.String()); err != nil {
		return Cell{}, err
	}
	n := strings.TrimSpace(v.String())
	return Cell{V: n, Num: n != ""}, nil
}
