package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/csvsafe"
	"github.com/medisac/medisac/internal/xlsx"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// ErrEncoding is returned (wrapped) when CSV bytes are neither UTF-8 nor
// Shift_JIS.
var ErrEncoding = errors.New("inventory: unknown text encoding")

// DecodeText returns data as UTF-8: UTF-8 with or without a byte-order mark
// as it is, otherwise Shift_JIS (Windows-31J, as Japanese Excel writes CSV).
// It also returns the detected encoding name ("utf-8" or "shift_jis").
func DecodeText(data []byte) ([]byte, string, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		data = data[3:]
		if !utf8.Valid(data) {
			return nil, "", fmt.Errorf("%w: invalid UTF-8 after byte-order mark", ErrEncoding)
		}
		return data, "utf-8", nil
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, "", fmt.Errorf("%w: UTF-16", ErrEncoding)
	}
	if utf8.Valid(data) {
		return data, "utf-8", nil
	}
	out, _, err := transform.Bytes(japanese.ShiftJIS.NewDecoder(), data)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return nil, "", fmt.Errorf("%w: neither UTF-8 nor Shift_JIS", ErrEncoding)
	}
	return out, "shift_jis", nil
}

// ReadCSV reads a CSV file (comma- or tab-separated, UTF-8 with or without
// BOM, or Shift_JIS) into rows of cells, at most maxRows rows.
func ReadCSV(data []byte, maxRows int) ([][]Cell, string, error) {
	text, enc, err := DecodeText(data)
	if err != nil {
		return nil, "", err
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	firstLine := text
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		firstLine = text[:i]
	}
	if bytes.Count(firstLine, []byte{'\t'}) > bytes.Count(firstLine, []byte{','}) {
		r.Comma = '\t'
	}
	var rows [][]Cell
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, enc, nil
		}
		if err != nil {
			return nil, enc, err
		}
		if len(rows) >= maxRows {
			return nil, enc, fmt.Errorf("%w: more than %d rows", xlsx.ErrLimit, maxRows)
		}
		row := make([]Cell, len(rec))
		for i, v := range rec {
			// Undo the apostrophe that CSV exports put before a formula
			// start (see csvsafe), so an exported file imports unchanged.
			row[i] = Cell{V: csvsafe.Unquote(v)}
		}
		rows = append(rows, row)
	}
}
