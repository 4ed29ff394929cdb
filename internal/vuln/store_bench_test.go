package vuln

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

// nvdGen writes NVD API 2.0 records with the shapes of NVD's data: most
// records name one or two products with a few version ranges, a tail
// names hundreds of criteria (log4j-like), some use AND with a
// non-vulnerable platform, about one in ten has no configurations yet
// (Awaiting Analysis) and a few are rejected. Products are drawn from a
// pool of 30,000 synthetic ones plus the products of the benchmark's
// assets (FortiOS, PAN-OS, Windows …), which NVD names about as often as
// it does.
type nvdGen struct {
	r     *rand.Rand
	synth int
}

// edgeProducts are products of the synthetic assets, with how many CVEs
// in 300,000 name them (roughly NVD's proportions).
var edgeProducts = []struct {
	part, vendor, product string
	perMillion            int
}{
	{"o", "fortinet", "fortios", 1200},
	{"o", "cisco", "adaptive_security_appliance_software", 1100},
	{"o", "paloaltonetworks", "pan-os", 500},
	{"a", "citrix", "netscaler_application_delivery_controller", 300},
	{"o", "yamaha", "rtx830_firmware", 100},
	{"o", "nec", "univerge_ix2106_firmware", 60},
	{"o", "microsoft", "windows_10_22h2", 8000},
	{"o", "microsoft", "windows_11_23h2", 6000},
	{"o", "microsoft", "windows_10_21h2", 8000},
	{"o", "microsoft", "windows_server_2019", 9000},
	{"a", "apache", "log4j", 60},
}

func (g *nvdGen) version() string {
	return fmt.Sprintf("%d.%d.%d", g.r.IntN(12), g.r.IntN(10), g.r.IntN(30))
}

func (g *nvdGen) product() (string, string, string) {
	n := g.r.IntN(1_000_000)
	for _, p := range edgeProducts {
		if n < p.perMillion {
			return p.part, p.vendor, p.product
		}
		n -= p.perMillion
	}
	i := g.r.IntN(g.synth)
	return []string{"a", "a", "a", "o", "h"}[i%5], fmt.Sprintf("vendor%d", i/7), fmt.Sprintf("product%d", i)
}

var loremWords = strings.Fields("a vulnerability in the web management interface of the device allows an unauthenticated remote attacker to execute arbitrary code via crafted requests improper input validation buffer overflow memory corruption privilege escalation cross-site scripting sql injection denial of service authentication bypass path traversal")

func (g *nvdGen) words(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(loremWords[g.r.IntN(len(loremWords))])
	}
	return b.String()
}

func (g *nvdGen) criteriaCount() int {
	switch n := g.r.IntN(100); {
	case n < 45:
		return 1 + g.r.IntN(2)
	case n < 75:
		return 3 + g.r.IntN(8)
	case n < 90:
		return 11 + g.r.IntN(30)
	case n < 99:
		return 41 + g.r.IntN(110)
	default:
		return 151 + g.r.IntN(250)
	}
}

// record returns record i.
func (g *nvdGen) record(i int) feed.NVDCVE {
	year := 1999 + i%27
	rec := feed.NVDCVE{ID: fmt.Sprintf("CVE-%d-%d", year, 10000+i), SourceIdentifier: "cve@mitre.org", VulnStatus: "Analyzed",
		Published: feed.NVDTime{Time: time.Date(year, time.Month(1+i%12), 1+i%28, 10, 0, 0, 0, time.UTC)}}
	rec.LastModified = feed.NVDTime{Time: rec.Published.Add(time.Duration(g.r.IntN(1000)) * time.Hour)}
	rec.Descriptions = []feed.LangString{{Lang: "en", Value: g.words(25 + g.r.IntN(60))}, {Lang: "es", Value: g.words(20 + g.r.IntN(40))}}
	score := float64(20+g.r.IntN(81)) / 10
	m := feed.NVDMetric{Source: "nvd@nist.gov", Type: "Primary", CVSSData: feed.CVSSRaw{Version: "3.1",
		VectorString: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BaseScore: score, BaseSeverity: severityOf(score)}}
	rec.Metrics.V31 = []feed.NVDMetric{m}
	if g.r.IntN(2) == 0 {
		m.Source, m.Type = "cna@vendor.example", "Secondary"
		rec.Metrics.V31 = append(rec.Metrics.V31, m)
	}
	rec.Weaknesses = []feed.NVDWeakness{{Source: "nvd@nist.gov", Type: "Primary", Description: []feed.LangString{{Lang: "en", Value: fmt.Sprintf("CWE-%d", 20+g.r.IntN(900))}}}}
	for j, n := 0, 2+g.r.IntN(10); j < n; j++ {
		rec.References = append(rec.References, feed.NVDReference{URL: fmt.Sprintf("https://vendor%d.example.com/security/advisory-%d-%d", g.r.IntN(5000), i, j),
			Source: "cve@mitre.org", Tags: []string{"Vendor Advisory"}})
	}
	switch n := g.r.IntN(100); {
	case n < 2:
		rec.VulnStatus = "Rejected"
		rec.Descriptions = []feed.LangString{{Lang: "en", Value: "** REJECT ** This candidate was withdrawn."}}
		rec.Metrics = feed.NVDMetrics{}
		return rec
	case n < 12:
		rec.VulnStatus = "Awaiting Analysis"
		return rec
	}
	nodes := []feed.NVDNode{{Operator: "OR"}}
	products := 1 + g.r.IntN(2)
	total := g.criteriaCount()
	for p := 0; p < products; p++ {
		part, vendor, product := g.product()
		for c := 0; c < (total+products-1)/products; c++ {
			cm := feed.NVDCPEMatch{Vulnerable: true, MatchCriteriaID: fmt.Sprintf("%08X-0000-0000-0000-%012d", i, p*1000+c)}
			if g.r.IntN(3) == 0 {
				cm.Criteria = fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:*:*:*:*:*:*:*", part, vendor, product, g.version())
			} else {
				cm.Criteria = fmt.Sprintf("cpe:2.3:%s:%s:%s:*:*:*:*:*:*:*:*", part, vendor, product)
				lo := g.version()
				cm.VersionStartIncluding, cm.VersionEndExcluding = lo, lo[:strings.LastIndexByte(lo, '.')]+".99"
			}
			nodes[0].CPEMatch = append(nodes[0].CPEMatch, cm)
		}
	}
	cfg := feed.NVDConfiguration{Nodes: nodes}
	if g.r.IntN(10) == 0 {
		cfg.Operator = "AND"
		cfg.Nodes = append(cfg.Nodes, feed.NVDNode{Operator: "OR", CPEMatch: []feed.NVDCPEMatch{{Vulnerable: false,
			Criteria: fmt.Sprintf("cpe:2.3:h:vendor%d:model%d:-:*:*:*:*:*:*:*", g.r.IntN(500), g.r.IntN(5000))}}})
	}
	rec.Configurations = []feed.NVDConfiguration{cfg}
	return rec
}

// writeFeed writes n generated records as one NVD API page to path and
// returns its size.
func writeFeed(b *testing.B, path string, n int) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, `{"resultsPerPage":%d,"startIndex":0,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-04-01T00:00:00.000","vulnerabilities":[`, n, n)
	g := &nvdGen{r: rand.New(rand.NewPCG(7, 9)), synth: 30000}
	enc := json.NewEncoder(w)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"cve":`)
		rec := g.record(i)
		if err := enc.Encode(&rec); err != nil {
			b.Fatal(err)
		}
		w.WriteByte('}')
	}
	w.WriteString("]}")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	return st.Size()
}

// peakRSS resets the kernel's peak-RSS mark of this process and returns a
// function reporting the peak since, in MB (0 where /proc is missing).
func peakRSS() func() float64 {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return func() float64 {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.Atoi(f[1])
				return float64(kb) / 1024
			}
		}
		return 0
	}
}

func dbSize(b *testing.B, d *db.DB, dir string) float64 {
	if d.Dialect() == db.Postgres {
		var n int64
		if err := d.QueryRow(context.Background(), `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return float64(n) / (1 << 20)
	}
	if _, err := d.Exec(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	return float64(total) / (1 << 20)
}

// benchRecords is the number of CVE records of the import benchmark
// (MEDISAC_BENCH_RECORDS overrides it, for quick runs).
func benchRecords() int { return testkit.BenchSize("RECORDS", 300_000) }

// BenchmarkImportNVD imports 300,000 generated CVE records from one file
// into a fresh database of each kind and reports records/s, the peak
// resident memory of the process, the database size, and how many
// transactions the import took and how long the longest held the database.
func BenchmarkImportNVD(b *testing.B) {
	n := benchRecords()
	dir := b.TempDir()
	feed := filepath.Join(dir, "nvd.json")
	size := writeFeed(b, feed, n)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var d *db.DB
				dbDir := ""
				if kind == "sqlite" {
					dbDir = b.TempDir()
					var err error
					d, err = db.Open(context.Background(), filepath.Join(dbDir, "bench.db"))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := d.Migrate(context.Background()); err != nil {
						b.Fatal(err)
					}
				} else {
					d = dbtest.Postgres(b)
				}
				runtime.GC()
				peak := peakRSS()
				// With a queue the import only enqueues the matching job,
				// which is timed on its own below.
				w := &Watch{DB: d, BatchSize: 200, Queue: jobs.New(d, nil, slog.New(slog.NewTextHandler(io.Discard, nil))),
					TempDir: b.TempDir()}
				var longest, held time.Duration
				var validated time.Time
				txs := 0
				w.onTx = func(s txStat) {
					if txs++; txs == 1 {
						validated = time.Now().Add(-s.held)
					}
					longest = max(longest, s.held)
					held += s.held
				}
				b.StartTimer()
				start := time.Now()
				res, err := w.ImportFile(context.Background(), feed)
				el := time.Since(start)
				b.StopTimer()
				if err != nil || res.Records != n {
					b.Fatalf("import: %+v %v", res, err)
				}
				b.ReportMetric(validated.Sub(start).Seconds(), "validate-s")
				start = time.Now()
				if _, err := w.MatchChanged(context.Background(), res.Since); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "match-job-s")
				b.ReportMetric(float64(n)/el.Seconds(), "records/s")
				b.ReportMetric(el.Seconds(), "import-s")
				b.ReportMetric(peak(), "peak-RSS-MB")
				b.ReportMetric(dbSize(b, d, dbDir), "db-MB")
				b.ReportMetric(float64(size)/(1<<20), "file-MB")
				b.ReportMetric(float64(longest.Microseconds())/1000, "longest-tx-ms")
				b.ReportMetric(float64(txs), "transactions")
				b.ReportMetric(held.Seconds(), "in-tx-s")
				if kind == "sqlite" {
					d.Close()
				}
			}
		})
	}
}

// BenchmarkFullRematchMemory is the matching part of a full re-match: a
// million assets (the grouped index) against every vulnerability of a
// 300,000-record corpus that names a product some asset has, as the
// database's key table selects them. Rules are compiled once beforehand,
// as the store loads them.
func BenchmarkFullRematchMemory(b *testing.B) {
	x := millionAssets(b)
	keys := map[string]bool{}
	for _, p := range edgeProducts {
		keys[p.vendor+":"+p.product] = true
	}
	for _, s := range []string{"fortinet:fortigate-60f", "cisco:asa_5506-x", "yamaha:rtx830"} {
		keys[s] = true
	}
	g := &nvdGen{r: rand.New(rand.NewPCG(7, 9)), synth: 30000}
	var cands []*match.Rules
	for i := 0; i < benchRecords(); i++ {
		rec := g.record(i)
		r, err := feed.CompileNVD(&rec, testReg)
		if err != nil {
			b.Fatal(err)
		}
		ks, wild := r.Keys()
		hit := wild
		for _, k := range ks {
			hit = hit || keys[k]
		}
		if hit && !r.Pending {
			cands = append(cands, r)
		}
	}
	b.ResetTimer()
	start := time.Now()
	p := x.Pruner()
	b.ReportMetric(time.Since(start).Seconds(), "pruner-build-s")
	var pairs atomic.Int64
	for i := 0; i < b.N; i++ {
		pairs.Store(0)
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					j := int(next.Add(1)) - 1
					if j >= len(cands) {
						return
					}
					for _, gr := range p.Match(cands[j]) {
						pairs.Add(int64(len(gr.AssetIDs)))
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(len(cands)), "candidate-CVEs")
	b.ReportMetric(float64(pairs.Load()), "affected-pairs")
	b.ReportMetric(float64(x.Len()), "assets")
}

// seedAssets inserts n inventory assets spread over orgs organisations,
// with the asset mix of millionAssets written as inventory fields.
func seedAssets(b testing.TB, d *db.DB, n, orgs int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	orgIDs := make([]string, orgs)
	err := d.InTx(ctx, func(tx *db.Tx) error {
		ob := newBatch(tx, "organizations", []string{"id", "kind", "name", "prefecture", "created_at", "updated_at"}, "", 200)
		prefs := []string{"東京都", "大阪府", "北海道", "福岡県", "愛知県", "宮城県", "広島県", "香川県"}
		for i := range orgIDs {
			orgIDs[i] = db.NewID()
			if err := ob.add(ctx, orgIDs[i], orgIDs[i], "hospital", fmt.Sprintf("病院%d", i), prefs[i%len(prefs)], now, now); err != nil {
				return err
			}
		}
		if err := ob.flush(ctx); err != nil {
			return err
		}
		ab := newBatch(tx, "inv_assets", []string{"id", "org_id", "name", "kind", "vendor", "product", "model", "version", "internet_exposed", "created_at", "updated_at"}, "", 300)
		kinds := []struct{ vendor, product, model, kind string }{
			{"Fortinet", "FortiGate", "FG-60F", "network"}, {"Palo Alto Networks", "PAN-OS", "", "network"},
			{"ヤマハ", "RTX830", "RTX830", "network"}, {"Microsoft", "Windows 10", "", "pc"}, {"Microsoft", "Windows Server 2019", "", "server"},
			{"Cisco", "ASA", "ASA5506-X", "network"}, {"Citrix", "NetScaler ADC", "", "network"},
		}
		for i := 0; i < n; i++ {
			k := kinds[r.IntN(len(kinds))]
			ver := ""
			switch k.product {
			case "FortiGate":
				ver = fmt.Sprintf("%d.%d.%d", 6+r.IntN(2), []int{0, 2, 4}[r.IntN(3)], r.IntN(18))
			case "PAN-OS":
				ver = fmt.Sprintf("1%d.%d.%d-h%d", r.IntN(2), r.IntN(3), r.IntN(12), r.IntN(6))
			case "RTX830":
				ver = fmt.Sprintf("15.02.%02d", r.IntN(30))
			case "Windows 10":
				ver = fmt.Sprintf("10.0.19045.%d", 2000+r.IntN(2000))
			case "Windows Server 2019":
				ver = fmt.Sprintf("10.0.17763.%d", 4000+r.IntN(1500))
			case "ASA":
				ver = fmt.Sprintf("9.%d(%d)%d", 8+r.IntN(10), 1+r.IntN(4), r.IntN(40))
			case "NetScaler ADC":
				ver = fmt.Sprintf("13.%d-%d.%d", r.IntN(2), 30+r.IntN(30), r.IntN(60))
			}
			id := db.NewID()
			exposed := "unknown"
			if k.kind == "network" && r.IntN(3) == 0 {
				exposed = "yes"
			}
			if err := ab.add(ctx, id, id, orgIDs[i%orgs], fmt.Sprintf("機器%d", i), k.kind, k.vendor, k.product, k.model, ver, exposed, now, now); err != nil {
				return err
			}
		}
		return ab.flush(ctx)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMatchAllDB is the whole database-backed re-match: deriving
// identities of every asset, loading the index, selecting candidate
// vulnerabilities by key, matching, writing findings and alerts, at
// 100,000 assets in 1,000 organisations against the real NVD records, the
// KEV catalogue and the Fortinet advisories of testdata. Environment:
// MEDISAC_BENCH_ASSETS overrides the asset count (organisations are one
// per 100 assets); MEDISAC_BENCH_CORPUS=N adds N generated NVD records
// (the shapes of BenchmarkImportNVD) to the vulnerabilities.
//
// It reports the first run (every identity derived, every finding new),
// a re-match with nothing changed in the same process (index in memory),
// the same from a new process (`medisac vuln match`: index loaded from
// the database), one new CVE imported end to end (stored, matched,
// findings and in-app alerts written, deliveries queued) and a re-match
// after the alias table changed (every identity derived again).
func BenchmarkMatchAllDB(b *testing.B) {
	n := testkit.BenchSize("ASSETS", 100_000)
	corpus, _ := strconv.Atoi(os.Getenv("MEDISAC_BENCH_CORPUS"))
	ctx := context.Background()
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var d *db.DB
				// MEDISAC_BENCH_KEEP=file keeps the SQLite database of the
				// first run in file; a later run on the same file starts
				// from the re-match.
				keep := os.Getenv("MEDISAC_BENCH_KEEP")
				kept := false
				if kind == "sqlite" && keep != "" {
					_, err := os.Stat(keep)
					kept = err == nil
					if d, err = db.Open(ctx, keep); err != nil {
						b.Fatal(err)
					}
					if _, err := d.Migrate(ctx); err != nil {
						b.Fatal(err)
					}
				} else if kind == "sqlite" {
					d = dbtest.SQLite(b)
				} else {
					d = dbtest.Postgres(b)
				}
				// As in the service, e-mail and webhook deliveries are
				// queued as jobs (not run here).
				q := jobs.New(d, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
				w := &Watch{DB: d, Queue: q}
				files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
				files = append(files, td("kev", "kev_trimmed.json"))
				fort, _ := filepath.Glob(td("fortinet", "*.json"))
				files = append(files, fort...)
				if kept {
					files = nil
				}
				if corpus > 0 && !kept {
					feed := filepath.Join(b.TempDir(), "corpus.json")
					writeFeed(b, feed, corpus)
					files = append(files, feed)
				}
				for _, f := range files {
					if _, err := w.ImportFile(ctx, f); err != nil {
						b.Fatal(err)
					}
				}
				if !kept {
					seedAssets(b, d, n, max(1, n/100))
				}
				report := func(name string, st MatchStats, el time.Duration) {
					b.ReportMetric(el.Seconds(), name+"-s")
					b.Logf("%s %s: %.2f s (identities %.2f, index %.2f, match %.2f, write %.2f, alert %.2f); %d vulns, %d findings, %d new, %d changed, %d closed",
						kind, name, el.Seconds(), st.Seconds.Identities, st.Seconds.Index, st.Seconds.Match, st.Seconds.Write, st.Seconds.Alert,
						st.Vulns, st.Findings, st.New, st.Changed, st.Closed)
				}
				run := func(name string, w *Watch) MatchStats {
					runtime.GC()
					start := time.Now()
					st, err := w.MatchAll(ctx)
					el := time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					report(name, st, el)
					return st
				}
				if !kept {
					b.StartTimer()
					st := run("first", w)
					b.StopTimer()
					b.ReportMetric(float64(st.New), "findings")
				}
				// With a kept database this process starts with nothing in
				// memory, so the new-process run comes first.
				runs := []string{"rematch-same-process", "rematch-new-process"}
				if kept {
					runs = []string{"rematch-new-process", "rematch-same-process"}
				}
				for i, name := range runs {
					rw := w
					if !kept && i == 1 {
						rw = &Watch{DB: d, Queue: q}
					}
					if again := run(name, rw); again.New+again.Changed+again.Closed != 0 {
						b.Fatalf("unchanged re-match changed findings: %+v", again)
					}
				}
				one, err := os.ReadFile(td("nvd", "CVE-2024-3400.json"))
				if err != nil {
					b.Fatal(err)
				}
				one = []byte(strings.Replace(string(one), "CVE-2024-3400", fmt.Sprintf("CVE-2099-%d", 100000+time.Now().UnixNano()%900000), 1))
				start := time.Now()
				res, err := w.Import(ctx, "one.json", strings.NewReader(string(one)))
				if err != nil || res.Changed != 1 {
					b.Fatal(res, err)
				}
				// The import queued the matching job; run it here.
				mst, err := w.MatchChanged(ctx, res.Since)
				if err != nil {
					b.Fatal(err)
				}
				report("import-one-CVE", mst, time.Since(start))
				// The same table with another version: every identity is
				// derived again and found unchanged (not with a kept
				// database, which stays with the shipped table).
				if keep != "" && kind == "sqlite" {
					continue
				}
				al, err := match.LoadAliases(strings.NewReader(string(match.ShippedAliasesJSON())+"\n"), testReg)
				if err != nil {
					b.Fatal(err)
				}
				if again := run("rematch-aliases-changed", &Watch{DB: d, Queue: q, Aliases: al}); again.New+again.Changed+again.Closed != 0 {
					b.Fatalf("alias re-match changed findings: %+v", again)
				}
				if kind == "sqlite" {
					d.Close()
				}
			}
		})
	}
}

// BenchmarkMatchOneNewCVEStored matches one new CVE, loaded from the
// database as the match job does (rules decoded and compiled), against
// the million-asset index.
func BenchmarkMatchOneNewCVEStored(b *testing.B) {
	x := millionAssets(b)
	rules := rulesFor(b, "CVE-2022-42475.json")
	data, err := match.MarshalRules(rules)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	affected := 0
	for i := 0; i < b.N; i++ {
		r, err := match.UnmarshalRules(data, testReg)
		if err != nil {
			b.Fatal(err)
		}
		affected = 0
		for _, g := range x.Match(r) {
			affected += len(g.AssetIDs)
		}
	}
	b.ReportMetric(float64(affected), "affected")
}
