package feed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
)

// parFeed builds an NVD 2.0 feed of n records from the real records of
// testdata (ids renumbered), with edit applied to record i (1-based).
func parFeed(t *testing.T, n int, edit func(i int, rec string) string) []byte {
	t.Helper()
	files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	if len(files) == 0 {
		t.Fatal("no testdata records")
	}
	var recs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(b))
	}
	var buf bytes.Buffer
	buf.WriteString(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			buf.WriteByte(',')
		}
		src := recs[i%len(recs)]
		var rec NVDCVE
		if err := EachNVD(strings.NewReader(src), func(c *NVDCVE) error { rec = *c; return nil }); err != nil {
			t.Fatal(err)
		}
		r := strings.Replace(src, `"`+rec.ID+`"`, fmt.Sprintf(`"CVE-2098-%05d"`, i), 1)
		if edit != nil {
			r = edit(i, r)
		}
		buf.WriteString(`{"cve":` + r + `}`)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

func parIDs(t *testing.T, feed []byte, workers int) ([]*NVDCVE, error) {
	t.Helper()
	var got []*NVDCVE
	err := EachNVDParallel(bytes.NewReader(feed), workers, func(c *NVDCVE, _ StoredRules) (*NVDCVE, error) { return c, nil },
		func(c *NVDCVE) error { got = append(got, c); return nil })
	return got, err
}

// The parallel walk gives the records of the sequential one, in file
// order, without their references.
func TestEachNVDParallelSameRecords(t *testing.T) {
	feed := parFeed(t, 500, nil)
	var want []*NVDCVE
	if err := EachNVD(bytes.NewReader(feed), func(c *NVDCVE) error { want = append(want, c); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 5} {
		got, err := parIDs(t, feed, workers)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d workers: %d records, want %d", workers, len(got), len(want))
		}
		refs := 0
		for i := range want {
			w := *want[i]
			refs += len(w.References)
			w.References = nil
			if !reflect.DeepEqual(*got[i], w) {
				t.Fatalf("%d workers: record %d (%s) differs from the sequential walk", workers, i+1, w.ID)
			}
		}
		if refs == 0 {
			t.Fatal("the records compared have no references; the test proves nothing about skipping them")
		}
	}
}

// The first bad record in file order is the error, whichever worker sees
// its own bad record first, and nothing after it is handed on.
func TestEachNVDParallelFirstErrorWins(t *testing.T) {
	feed := parFeed(t, 400, func(i int, rec string) string {
		switch i {
		case 150:
			return strings.Replace(rec, `"CVE-2098-00150"`, `"CVE-98-1"`, 1)
		case 300:
			return strings.Replace(rec, `"cpe:2.3:`, `"cpe:2.3:x:`, 1)
		}
		return rec
	})
	for _, workers := range []int{1, 2, 4} {
		got, err := parIDs(t, feed, workers)
		if err == nil || apperr.From(err).Key != "vuln.feed.bad_cve_id" || !strings.Contains(err.Error(), "record 150") {
			t.Fatalf("%d workers: err = %v, want the bad id of record 150", workers, err)
		}
		if len(got) != 149 {
			t.Fatalf("%d workers: %d records handed on before the bad one, want 149", workers, len(got))
		}
	}
	// A syntax error after a bad record: the bad record is reported.
	cut := parFeed(t, 200, func(i int, rec string) string {
		if i == 20 {
			return strings.Replace(rec, `"cpe:2.3:`, `"cpe:2.3:x:`, 1)
		}
		return rec
	})
	cut = cut[:len(cut)*3/4]
	if _, err := parIDs(t, cut, 2); err == nil || apperr.From(err).Key != "vuln.feed.bad_cpe" {
		t.Fatalf("cut file with a bad CPE in record 20: err = %v, want vuln.feed.bad_cpe", err)
	}
	// A bad name in a withdrawn record still rejects the file.
	rejected := parFeed(t, 100, func(i int, rec string) string {
		if i == 40 {
			rec = strings.Replace(rec, `"cpe:2.3:`, `"cpe:2.3:x:`, 1)
			return strings.Replace(rec, `"vulnStatus": "`, `"vulnStatus": "Rejected", "x": "`, 1)
		}
		return rec
	})
	if _, err := parIDs(t, rejected, 2); err == nil || apperr.From(err).Key != "vuln.feed.bad_cpe" || !strings.Contains(err.Error(), "CVE-2098-00040") {
		t.Fatalf("withdrawn record with a bad CPE: err = %v, want vuln.feed.bad_cpe of CVE-2098-00040", err)
	}
	// A cut file without bad records is reported as cut.
	good := parFeed(t, 200, nil)
	if _, err := parIDs(t, good[:len(good)/2], 2); err == nil || apperr.From(err).Key != "vuln.feed.bad_record" {
		t.Fatalf("cut file: err = %v, want vuln.feed.bad_record", err)
	}
	// An error of the caller stops the walk at that record.
	stop := errors.New("disk full")
	n := 0
	err := EachNVDParallel(bytes.NewReader(good), 2, func(c *NVDCVE, _ StoredRules) (string, error) { return c.ID, nil }, func(string) error {
		if n++; n == 70 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 70 {
		t.Fatalf("err = %v after %d records, want the caller's error at record 70", err, n)
	}
	// A prepare error is reported as the record's.
	err = EachNVDParallel(bytes.NewReader(good), 2, func(c *NVDCVE, _ StoredRules) (string, error) {
		if c.ID == "CVE-2098-00077" {
			return "", stop
		}
		return c.ID, nil
	}, func(string) error { return nil })
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the prepare error", err)
	}
}

// The other shapes go through the parallel walk too.
func TestEachNVDParallelShapes(t *testing.T) {
	one, err := os.ReadFile(td("nvd", "CVE-2024-3400.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"single": string(one),
		"array":  "[" + string(one) + "," + strings.Replace(string(one), "CVE-2024-3400", "CVE-2024-3401", 1) + "]",
		"items":  `{"cve_count":2,"cve_items":[` + string(one) + "," + strings.Replace(string(one), "CVE-2024-3400", "CVE-2024-3401", 1) + "]}",
	} {
		got, err := parIDs(t, []byte(in), 2)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) == 0 || got[0].ID != "CVE-2024-3400" || (name != "single" && (len(got) != 2 || got[1].ID != "CVE-2024-3401")) {
			t.Fatalf("%s: got %d records", name, len(got))
		}
	}
	bad := `{"cve_count":3,"cve_items":[` + string(one) + "]}"
	if _, err := parIDs(t, []byte(bad), 2); err == nil || apperr.From(err).Key != "vuln.feed.bad_count" {
		t.Fatalf("declared count wrong: err = %v, want vuln.feed.bad_count", err)
	}
}
