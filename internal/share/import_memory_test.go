package share

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestImportIndexMemory parses and groups a bundle of 100,000 objects
// (100 reports of 999 indicators each) and measures the heap the import
// keeps for them: a small fixed cost per object (about 75 bytes: the id's
// type and UUID, a 24-byte record, a few node numbers), not the 1.2 KB of
// maps and strings it took before, so that a million objects need well
// under 300 MiB however many garbage collections lag behind.
func TestImportIndexMemory(t *testing.T) {
	n := 100000
	per := 1000
	reports := n / per
	f := writeIndicatorBundle(t, n, per, "")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	b, err := parseBundle(context.Background(), bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	parsed := (ms.HeapAlloc - base) / uint64(n)
	g, err := b.group(context.Background())
	if err != nil || len(g) != reports {
		t.Fatalf("%d groups, %v", len(g), err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grouped := (ms.HeapAlloc - base) / uint64(n)
	t.Logf("heap kept: %d bytes per object parsed, %d grouped", parsed, grouped)
	if grouped > 120 {
		t.Errorf("the import keeps %d bytes per object", grouped)
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(g)
	b.close()
}

// writeIndicatorBundle writes a STIX bundle of n objects to a temporary
// file: reports of perReport objects, each an indicator of an IPv4 address
// but the last, the report naming them. marking, unless empty, is the
// reports' marking definition. The file is returned at its start.
func writeIndicatorBundle(t testing.TB, n, perReport int, marking string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "bundle-*.json")
	if err != nil {
		t.Fatal(err)
	}
	markingRefs := ""
	if marking != "" {
		markingRefs = `"object_marking_refs":["` + marking + `"],`
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(bw, `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	reports := n / perReport
	for r := 0; r < reports; r++ {
		var refs []string
		for j := 0; j < perReport-1; j++ {
			k := r*perReport + j
			id := fmt.Sprintf("indicator--%08d-0000-4000-8000-%012d", r, j)
			refs = append(refs, `"`+id+`"`)
			fmt.Fprintf(bw, `{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","pattern":"[ipv4-addr:value = '10.%d.%d.%d']","pattern_type":"stix","valid_from":"2026-04-01T09:00:00.000Z"},`,
				id, (k>>16)&255, (k>>8)&255, k&255)
		}
		sep := ","
		if r == reports-1 {
			sep = ""
		}
		fmt.Fprintf(bw, `{"type":"report","spec_version":"2.1","id":"report--%08d-0000-4000-8000-000000000000","created":"2026-04-01T09:00:00.000Z","modified":"2026-04-01T09:00:00.000Z","name":"bench %d","published":"2026-04-01T09:00:00.000Z",%s"object_refs":[%s]}%s`,
			r, r, markingRefs, strings.Join(refs, ","), sep)
	}
	fmt.Fprint(bw, "]}")
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return f
}
