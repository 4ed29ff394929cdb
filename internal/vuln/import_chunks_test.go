package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// chunkFeed returns n generated NVD records as one API page, made small
// (no references, few criteria), with every 40th naming FortiOS 7.0.0 up
// to 7.0.x so that the assets of chunkAssets are affected by some; edit,
// when given, changes record i last.
func chunkFeed(t testing.TB, n int, edit func(i int, rec *feed.NVDCVE)) []byte {
	t.Helper()
	g := &nvdGen{r: rand.New(rand.NewPCG(11, 13)), synth: 3000}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"resultsPerPage":%d,"startIndex":0,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-04-01T00:00:00.000","vulnerabilities":[`, n, n)
	for i := 0; i < n; i++ {
		rec := g.record(i)
		rec.References = nil
		rec.Descriptions = rec.Descriptions[:1]
		for c := range rec.Configurations {
			for k := range rec.Configurations[c].Nodes {
				node := &rec.Configurations[c].Nodes[k]
				node.CPEMatch = node.CPEMatch[:min(len(node.CPEMatch), 4)]
			}
		}
		if i%40 == 0 {
			rec.VulnStatus = "Analyzed"
			rec.Descriptions = []feed.LangString{{Lang: "en", Value: "A flaw in FortiOS."}}
			rec.Configurations = []feed.NVDConfiguration{{Nodes: []feed.NVDNode{{Operator: "OR", CPEMatch: []feed.NVDCPEMatch{{Vulnerable: true,
				Criteria: "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", VersionStartIncluding: "7.0.0",
				VersionEndExcluding: fmt.Sprintf("7.0.%d", i/40%12)}}}}}}
		}
		if edit != nil {
			edit(i, &rec)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := json.Marshal(map[string]*feed.NVDCVE{"cve": &rec})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// chunkAssets registers FortiGates with and without a version.
func chunkAssets(t testing.TB, d *db.DB) string {
	t.Helper()
	org := newOrg(t, d, "分割取込病院", "東京都")
	for i, v := range []string{"7.0.3", "7.0.9", "7.2.1", ""} {
		mustAsset(t, d, org, inventory.Asset{Name: fmt.Sprintf("FW%d", i), Kind: inventory.KindNetwork, Vendor: "Fortinet",
			Product: "FortiGate", Version: v})
	}
	return org
}

// vulnDump returns every row of the feed tables, one string per row.
func vulnDump(t testing.TB, d *db.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT * FROM vuln_vulns ORDER BY id`,
		`SELECT * FROM vuln_rules ORDER BY vuln_id, source, source_id`,
		`SELECT * FROM vuln_rule_keys ORDER BY rkey, vuln_id`,
		`SELECT * FROM vuln_refs ORDER BY vuln_id, ref_id`,
		`SELECT * FROM vuln_kev ORDER BY cve`,
		`SELECT * FROM vuln_epss ORDER BY cve`,
		`SELECT * FROM vuln_docs ORDER BY id`,
	} {
		rows, err := d.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			s := q[14:24]
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				s += fmt.Sprintf("|%v", v)
			}
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func findingKeys(t testing.TB, d *db.DB, org string) []string {
	t.Helper()
	var out []string
	for k, f := range findingsOf(t, d, org, true) {
		out = append(out, fmt.Sprintf("%s %s %v", k, f.Confidence, f.Active))
	}
	slices.Sort(out)
	return out
}

// twin returns a second fresh database of d's kind.
func twin(t *testing.T, d *db.DB) *db.DB {
	if d.Dialect() == db.Postgres {
		return dbtest.Postgres(t)
	}
	return dbtest.SQLite(t)
}

func countRows(t testing.TB, q db.Querier, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportChunked imports a 10,000-record file in transactions of at
// most 700 records and the same file in one transaction into a twin
// database: the stored data and the findings are the same, each
// transaction is committed before the next starts (another writer gets
// through between them), a re-import is idempotent, and an update that
// rejects and changes records withdraws and changes the same findings.
func TestImportChunked(t *testing.T) {
	const n = 10_000
	v1 := chunkFeed(t, n, nil)
	v2 := chunkFeed(t, n, func(i int, rec *feed.NVDCVE) {
		switch {
		case i%400 == 0:
			rec.VulnStatus = "Rejected"
			rec.Configurations = nil
			rec.LastModified.Time = rec.LastModified.Add(48 * time.Hour)
		case i%400 == 40:
			rec.Configurations[0].Nodes[0].CPEMatch[0].VersionEndExcluding = "7.0.99"
			rec.LastModified.Time = rec.LastModified.Add(48 * time.Hour)
		}
	})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := testkit.NewClock(t0)
		one := twin(t, d)
		orgs := []string{chunkAssets(t, d), chunkAssets(t, one)}
		chunked := newWatch(d, c)
		chunked.BatchSize = 150
		chunked.ChunkRecords = 700
		whole := newWatch(one, c)
		whole.BatchSize = 150
		whole.ChunkRecords, whole.ChunkTime = 1<<30, time.Hour
		var stats [2][]txStat
		var between []int
		chunked.onTx = func(s txStat) {
			stats[0] = append(stats[0], s)
			if len(stats[0]) == 1 {
				// Another writer between two transactions of the import, on
				// a connection of its own, sees the first one committed.
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if _, err := d.Exec(wctx, `INSERT INTO vuln_sync_state (name, updated_at) VALUES ('other-writer', ?)`, c.Now()); err != nil {
					t.Errorf("writer between transactions: %v", err)
				}
				between = append(between, countRows(t, d, `SELECT COUNT(*) FROM vuln_vulns`))
			}
		}
		whole.onTx = func(s txStat) { stats[1] = append(stats[1], s) }

		c.Advance(time.Minute)
		for i, w := range []*Watch{chunked, whole} {
			res, err := w.Import(ctx, "nvd-v1.json", bytes.NewReader(v1))
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != n || res.Changed != n {
				t.Errorf("watch %d: %+v", i, res)
			}
		}
		if len(stats[0]) < n/700 || len(stats[1]) != 1 {
			t.Fatalf("transactions: chunked %d, whole %d", len(stats[0]), len(stats[1]))
		}
		total := 0
		for _, s := range stats[0] {
			if s.records > 700 {
				t.Errorf("transaction of %d records", s.records)
			}
			total += s.records
		}
		if total != n || !slices.Equal(between, []int{stats[0][0].records}) {
			t.Errorf("records per transaction %v, visible after the first %v", stats[0], between)
		}
		if !slices.Equal(vulnDump(t, d), vulnDump(t, one)) {
			t.Fatal("chunked import stored other data than one transaction")
		}
		f1 := findingKeys(t, d, orgs[0])
		if len(f1) == 0 || !slices.Equal(f1, findingKeys(t, one, orgs[1])) {
			t.Fatalf("findings after chunked import %v, after one transaction %v", f1, findingKeys(t, one, orgs[1]))
		}

		// Re-importing the same file changes nothing.
		before := vulnDump(t, d)
		c.Advance(time.Minute)
		res, err := chunked.Import(ctx, "nvd-v1.json", bytes.NewReader(v1))
		if err != nil || res.Changed != 0 || res.Records != n {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		if !slices.Equal(before, vulnDump(t, d)) || !slices.Equal(f1, findingKeys(t, d, orgs[0])) {
			t.Error("re-import changed data or findings")
		}

		// An update rejecting some records and widening others.
		c.Advance(time.Minute)
		for _, w := range []*Watch{chunked, whole} {
			res, err := w.Import(ctx, "nvd-v2.json", bytes.NewReader(v2))
			if err != nil || res.Changed != 2*n/400 {
				t.Fatalf("update: %+v %v", res, err)
			}
		}
		f2 := findingKeys(t, d, orgs[0])
		if !slices.Equal(f2, findingKeys(t, one, orgs[1])) || slices.Equal(f1, f2) {
			t.Fatalf("findings after the update: chunked %v, one transaction %v", f2, findingKeys(t, one, orgs[1]))
		}
		fs := findingsOf(t, d, orgs[0], true)
		if f, ok := fs["FW3 CVE-1999-10000"]; ok && f.Active {
			t.Errorf("finding of a rejected CVE still active: %+v", f)
		}
		if f, ok := fs["FW1 CVE-2012-10040"]; !ok || !f.Active || f.Confidence != "exact" {
			t.Errorf("finding of a widened range: %+v", f)
		}
	})
}

// TestImportChunkedBadLastRecord rejects a file whose last record is bad
// before writing anything, however many transactions its good records
// would have taken.
func TestImportChunkedBadLastRecord(t *testing.T) {
	const n = 5_000
	bad := chunkFeed(t, n, func(i int, rec *feed.NVDCVE) {
		if i == n-1 {
			rec.Configurations = []feed.NVDConfiguration{{Nodes: []feed.NVDNode{{Operator: "OR", CPEMatch: []feed.NVDCPEMatch{{Vulnerable: true,
				Criteria: "cpe:2.3:q:broken:part:*:*:*:*:*:*:*:*"}}}}}}
		}
	})
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		w.ChunkRecords = 100
		w.TempDir = t.TempDir()
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"), td("kev", "kev_trimmed.json"))
		before := vulnDump(t, d)
		w.onTx = func(txStat) { t.Error("a transaction of a bad file committed") }
		for _, zipped := range []bool{false, true} {
			c.Advance(time.Second)
			body := bad
			if zipped {
				body = testkit.Gzip(bad)
			}
			_, err := w.Import(ctx, "bad.json", bytes.NewReader(body))
			if err == nil || apperr.From(err).Key != "vuln.feed.bad_cpe" {
				t.Fatalf("gzip %v: %v", zipped, err)
			}
		}
		if !slices.Equal(before, vulnDump(t, d)) {
			t.Error("a refused file changed the data held")
		}
		if files, _ := filepath.Glob(filepath.Join(w.TempDir, "medisac-import-*")); len(files) != 0 {
			t.Errorf("temporary files left: %v", files)
		}
	})
}

// TestImportStopped stops an import after three of its transactions: it
// is listed as interrupted at once, what it committed is matched at once,
// and importing the file again completes it with the findings of an
// import that never stopped.
func TestImportStopped(t *testing.T) {
	const n = 4_000
	feed := chunkFeed(t, n, nil)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := testkit.NewClock(t0)
		q := jobs.New(d, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
		org := chunkAssets(t, d)
		w := newWatch(d, c)
		w.Queue = q
		w.ChunkRecords, w.ChunkTime = 500, time.Hour
		w.TempDir = t.TempDir()
		w.Register()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		txs := 0
		w.onTx = func(txStat) {
			if txs++; txs == 3 {
				cancel()
			}
		}
		_, err := w.Import(ctx, "nvd.json", bytes.NewReader(feed))
		if !errors.Is(err, context.Canceled) || apperr.From(err).Key != "vuln.import.interrupted" {
			t.Fatalf("stopped import: %v", err)
		}
		if ls, err := InterruptedImports(context.Background(), d); err != nil || len(ls) != 1 || ls[0].Name != "nvd.json" || ls[0].Records != n || ls[0].OK {
			t.Fatalf("interrupted imports %+v %v", ls, err)
		}
		if got := countRows(t, d, `SELECT COUNT(*) FROM vuln_vulns`); got != 1500 {
			t.Fatalf("%d records committed", got)
		}
		if files, _ := os.ReadDir(w.TempDir); len(files) != 0 {
			t.Errorf("temporary files left: %v", files)
		}
		bg := context.Background()
		matchJobs := func(want string) {
			t.Helper()
			if _, err := q.RunOnce(bg); err != nil {
				t.Fatal(err)
			}
			rows, err := d.Query(bg, `SELECT state FROM jobs WHERE kind = ? ORDER BY created_at, id`, JobMatch)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != want {
				t.Fatalf("match jobs %v, want %s", got, want)
			}
		}
		matchJobs("done")
		partial := findingKeys(t, d, org)
		if len(partial) == 0 {
			t.Fatal("no findings from the committed part")
		}

		// Importing the file again completes it; its match job is due at once.
		w.onTx = nil
		c.Advance(time.Minute)
		res, err := w.Import(bg, "nvd.json", bytes.NewReader(feed))
		if err != nil || res.Changed != n-1500 {
			t.Fatalf("completing import: %+v %v", res, err)
		}
		matchJobs("done done")
		if ls, err := InterruptedImports(bg, d); err != nil || len(ls) != 0 {
			t.Fatalf("interrupted imports after completing: %+v %v", ls, err)
		}
		if ls, err := RecentImports(bg, d, 5); err != nil || len(ls) != 2 || !ls[0].OK || ls[0].State != "" || !ls[1].Interrupted() || !ls[1].Completed {
			t.Fatalf("recent imports %+v %v", ls, err)
		}

		one := twin(t, d)
		org1 := chunkAssets(t, one)
		importFiles(t, newWatch(one, c), writeTemp(t, feed))
		if got, want := findingKeys(t, d, org), findingKeys(t, one, org1); !slices.Equal(got, want) || len(got) <= len(partial) {
			t.Errorf("findings after completing: %v, want %v", got, want)
		}
	})
}

// TestImportChunksEveryFormat imports the test data of every format one
// record per transaction and all in one, with the same result.
func TestImportChunksEveryFormat(t *testing.T) {
	files := []string{td("nvd", "CVE-2022-42475.json"), td("kev", "kev_trimmed.json"), td("epss", "epss_scores-2023-03-07.csv.gz"),
		td("jvn", "jvndb_detail_2022.rdf"), td("jvn", "jvndb_2023.rdf"), td("csaf", "icsma-20-023-01.json"), td("fortinet", "FG-IR-22-398.json")}
	nvd, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	files = append(files, nvd...)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := testkit.NewClock(t0)
		one := twin(t, d)
		small := newWatch(d, c)
		small.ChunkRecords = 1
		txs := 0
		small.onTx = func(s txStat) {
			txs++
			if s.records > 1 {
				t.Errorf("transaction of %d records", s.records)
			}
		}
		whole := newWatch(one, c)
		whole.ChunkRecords, whole.ChunkTime = 1<<30, time.Hour
		for _, f := range files {
			c.Advance(time.Second)
			r1 := importFiles(t, small, f)[0]
			r2 := importFiles(t, whole, f)[0]
			if r1 != r2 {
				t.Errorf("%s: %+v, in one transaction %+v", f, r1, r2)
			}
		}
		if txs <= len(files) {
			t.Errorf("%d transactions for %d files", txs, len(files))
		}
		if a, b := vulnDump(t, d), vulnDump(t, one); !slices.Equal(a, b) {
			t.Errorf("stored data differs: %d rows, in one transaction %d", len(a), len(b))
		}
	})
}

// TestSpoolRoundTrip reads back what the spool wrote, times and all.
func TestSpoolRoundTrip(t *testing.T) {
	w := &Watch{TempDir: filepath.Join(t.TempDir(), "temp")}
	sp, err := w.newSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	rows := []nvdRow{
		{id: "CVE-2024-0001", desc: "説明 with ünïcode", status: "Analyzed", published: time.Date(1999, 1, 2, 3, 4, 5, 123456789, time.UTC),
			modified: time.Date(1969, 7, 20, 20, 17, 0, 1, time.UTC), score: 9.8, cvssVersion: "3.1", severity: "CRITICAL", vector: "AV:N",
			cwes: "CWE-79 CWE-89", rules: feed.StoredRules{Data: []byte(`{"x":1}`), Keys: []string{"a:b", "c:d"}, Wild: true, Fixed: []string{"1.2"}}},
		{id: "CVE-2024-0002", withdrawn: true, rules: feed.StoredRules{Pending: true}},
		{id: strings.Repeat("x", 70000), desc: ""},
	}
	for i := range rows {
		if err := sp.writeNVD(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.rewind(); err != nil {
		t.Fatal(err)
	}
	var got nvdRow
	for i, want := range rows {
		ok, err := sp.readNVD(&got)
		if !ok || err != nil {
			t.Fatalf("row %d: %v %v", i, ok, err)
		}
		if fmt.Sprintf("%#v", normRow(got)) != fmt.Sprintf("%#v", normRow(want)) {
			t.Errorf("row %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
	if ok, err := sp.readNVD(&got); ok || err != nil {
		t.Errorf("after the last row: %v %v", ok, err)
	}
}

func normRow(r nvdRow) nvdRow {
	if len(r.rules.Keys) == 0 {
		r.rules.Keys = nil
	}
	if len(r.rules.Fixed) == 0 {
		r.rules.Fixed = nil
	}
	if len(r.rules.Data) == 0 {
		r.rules.Data = nil
	}
	return r
}

func writeTemp(t testing.TB, body []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "feed.json")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
