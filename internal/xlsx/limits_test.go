package xlsx

import (
	"archive/zip"
	"bytes"
	"errors"
	"github.com/medisac/medisac/internal/testkit"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHugeSharedString: a workbook of a few MB holding one shared
// string of 64 MB (inside the inflation ratio) is refused quickly, naming
// the cell limit, without the reader ever holding the string.
func TestHugeSharedString(t *testing.T) {
	data := testkit.HugeSharedXLSX(t, 64<<20)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "xl/sharedStrings.xml" && f.UncompressedSize64 > f.CompressedSize64*uint64(DefaultLimits.MaxRatio) {
			t.Fatalf("test file is refused by the ratio check (%d/%d); it must pass it", f.UncompressedSize64, f.CompressedSize64)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = Read(data, Limits{})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCellTooLong) || !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrCellTooLong", err)
	}
	// TotalAlloc counts every byte allocated, so it bounds the heap's growth.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("reading the refused workbook allocated %d MB", alloc>>20)
	}
	if took > 2*time.Second {
		t.Errorf("refusing took %v", took)
	}

}

// TestCellLimits checks the limits of cell text: a cell of exactly
// 32,767 characters (multi-byte) is read, one more is refused; shared
// strings together past MaxTextBytes are refused; cells padded far to the
// right count against MaxCells.
func TestCellLimits(t *testing.T) {
	sheet := `<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`
	sst := func(ss ...string) string {
		var b strings.Builder
		b.WriteString(`<sst>`)
		for _, s := range ss {
			b.WriteString(`<si><t>` + s + `</t></si>`)
		}
		b.WriteString(`</sst>`)
		return b.String()
	}
	full := strings.Repeat("保", MaxCellChars)
	sheets, err := Read(testkit.RawXLSX(t, sheet, sst(full)), Limits{})
	if err != nil || sheets[0].Rows[0][0].V != full {
		t.Fatalf("a cell of %d characters: %v", MaxCellChars, err)
	}
	if _, err := Read(testkit.RawXLSX(t, sheet, sst(full+"守")), Limits{}); !errors.Is(err, ErrCellTooLong) {
		t.Fatalf("a cell of %d characters: %v", MaxCellChars+1, err)
	}
	inline := `<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>` + full + `a</t></is></c></row></sheetData></worksheet>`
	if _, err := Read(testkit.RawXLSX(t, inline, ""), Limits{}); !errors.Is(err, ErrCellTooLong) {
		t.Fatalf("an inline cell of %d characters: %v", MaxCellChars+1, err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	many := make([]string, 40)
	for i := range many {
		b := make([]byte, 30000)
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		many[i] = string(b)
	}
	if _, err := Read(testkit.RawXLSX(t, sheet, sst(many...)), Limits{MaxTextBytes: 1 << 20}); !errors.Is(err, ErrTextTooLarge) {
		t.Fatalf("1.2 MB of shared strings over a 1 MB limit: %v", err)
	}
	if _, err := Read(testkit.RawXLSX(t, sheet, sst(many...)), Limits{MaxTextBytes: 2 << 20}); err != nil {
		t.Fatalf("1.2 MB of shared strings under a 2 MB limit: %v", err)
	}
	var wide strings.Builder
	wide.WriteString(`<worksheet><sheetData>`)
	for i := 1; i <= 100; i++ {
		wide.WriteString(`<row><c r="GR` + strconv.Itoa(i) + `"><v>1</v></c></row>`)
	}
	wide.WriteString(`</sheetData></worksheet>`)
	if _, err := Read(testkit.RawXLSX(t, wide.String(), ""), Limits{MaxCells: 10000}); !errors.Is(err, ErrLimit) {
		t.Fatalf("20,000 padded cells over a limit of 10,000: %v", err)
	}
}
