package feed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// syntheticFeed returns an NVD feed file of n records made from the real
// records in testdata with fresh CVE ids, so it has NVD's real shapes.
func syntheticFeed(b *testing.B, n int) []byte {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "nvd", "CVE-*.json"))
	var recs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, data)
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		r := recs[i%len(recs)]
		j := bytes.Index(r, []byte(`"CVE-`))
		k := bytes.IndexByte(r[j+1:], '"') + j + 1
		id := fmt.Sprintf(`"CVE-2099-%07d"`, i)
		rec := append(append(append([]byte{}, r[:j]...), id...), r[k+1:]...)
		out = append(out, rec)
	}
	return nvdPage(out...)
}

// BenchmarkParseNVD measures decoding and validating NVD feed records.
func BenchmarkParseNVD(b *testing.B) {
	const n = 3600
	feed := syntheticFeed(b, n)
	b.SetBytes(int64(len(feed)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		count := 0
		if err := EachNVD(bytes.NewReader(feed), func(*NVDCVE) error { count++; return nil }); err != nil || count != n {
			b.Fatal(err, count)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParseCompileNVD adds compiling configurations into rules.
func BenchmarkParseCompileNVD(b *testing.B) {
	const n = 3600
	feed := syntheticFeed(b, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := EachNVD(bytes.NewReader(feed), func(c *NVDCVE) error {
			_, err := CompileNVD(c, testReg)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
