//go:build load

package app

// The load benchmark (make load): a real `medisac serve` process on SQLite
// or PostgreSQL, seeded with several organisations, people with API tokens
// and web sessions, a register of a few thousand assets and the
// vulnerability corpus, receives a fixed rate of authenticated reads
// (open loop: arrivals do not wait for answers) while another organisation
// runs, back to back, 100,000-row register imports through the API (each
// sent with Prefer: respond-async and followed through its import job), STIX
// bundles of about 30 MiB through the API (under its 32 MiB limit) and a
// 1,000,000-object STIX bundle (about 390 MiB) with `medisac share import`,
// a separate process on the same database, as an ISAC would import a file
// that size (on SQLite the command hands the file to the server over its
// local socket and follows the job; on PostgreSQL it imports directly). It prints requests, success, latency percentiles, errors by
// status, the server's peak memory, the imports' outcomes and the command
// line import's peak memory, and fails when the targets are missed:
//
//	100 % success, p99 ≤ 250 ms, server memory ≤ 1 GB.
//
// It is built only with the build tag "load" (make load). Settings
// (environment):
//
//	MEDISAC_LOAD_DB            sqlite, postgres or both (default both)
//	MEDISAC_LOAD_DURATION      how long the reads run (default 10m)
//	MEDISAC_LOAD_RATE          reads per second (default 100)
//	MEDISAC_LOAD_IMPORT_ROWS   rows of each register import (default 100000)
//	MEDISAC_LOAD_STIX_OBJECTS  objects of the command line STIX bundle (default 1000000)
//	MEDISAC_LOAD_API_OBJECTS   objects of each API STIX bundle (default 80000)
//	MEDISAC_LOAD_CORPUS        repo: seed only the repository's vulnerability testdata
//	MEDISAC_LOAD_TARGET_P99    p99 target (default 250ms)
//	MEDISAC_LOAD_TARGET_RSS_MB server memory target in MiB (default 1024)

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
)

type loadSettings struct {
	duration    time.Duration
	rate        int
	importRows  int
	stixObjects int
	apiObjects  int
	targetP99   time.Duration
	targetRSSMB float64
}

func loadSettingsFromEnv(t *testing.T) loadSettings {
	t.Helper()
	s := loadSettings{duration: 10 * time.Minute, rate: 100, importRows: 100000, stixObjects: 1000000, apiObjects: 80000,
		targetP99: 250 * time.Millisecond, targetRSSMB: 1024}
	dur := func(name string, dst *time.Duration) {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			*dst = d
		}
	}
	num := func(name string, dst *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s: want a positive number, got %q", name, v)
			}
			*dst = n
		}
	}
	dur("MEDISAC_LOAD_DURATION", &s.duration)
	dur("MEDISAC_LOAD_TARGET_P99", &s.targetP99)
	num("MEDISAC_LOAD_RATE", &s.rate)
	num("MEDISAC_LOAD_IMPORT_ROWS", &s.importRows)
	num("MEDISAC_LOAD_STIX_OBJECTS", &s.stixObjects)
	num("MEDISAC_LOAD_API_OBJECTS", &s.apiObjects)
	var rss int
	if os.Getenv("MEDISAC_LOAD_TARGET_RSS_MB") != "" {
		num("MEDISAC_LOAD_TARGET_RSS_MB", &rss)
		s.targetRSSMB = float64(rss)
	}
	return s
}

func loadDatabases(t *testing.T) []string {
	switch v := os.Getenv("MEDISAC_LOAD_DB"); v {
	case "", "both":
		return []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		return []string{v}
	default:
		t.Fatalf("MEDISAC_LOAD_DB: want sqlite, postgres or both, got %q", v)
		return nil
	}
}

// TestLoad is the load benchmark; see the top of this file.
func TestLoad(t *testing.T) {
	s := loadSettingsFromEnv(t)
	bin := buildMedisac(t)
	files := t.TempDir()
	start := time.Now()
	csvA, csvB := loadRegisterCSV(t, s.importRows, "A"), loadRegisterCSV(t, s.importRows, "B")
	stixPath := filepath.Join(files, "bundle.json")
	stixSize, err := writeSTIXBundle(stixPath, s.stixObjects, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The API bundles are written during the run, each with new objects;
	// this one only checks their size.
	apiSize, err := writeSTIXBundle(filepath.Join(files, "api-bundle.json"), s.apiObjects, 1)
	if err != nil {
		t.Fatal(err)
	}
	if apiSize > share.MaxImport {
		t.Fatalf("an API STIX bundle of %d objects is %d bytes, over the API limit of %d: lower MEDISAC_LOAD_API_OBJECTS", s.apiObjects, apiSize, share.MaxImport)
	}
	fmt.Printf("load: files ready in %v: register CSV %d rows (%.1f MiB), command line STIX bundle %d objects (%.1f MiB), API STIX bundles %d objects (%.1f MiB)\n",
		time.Since(start).Round(time.Millisecond), s.importRows, float64(len(csvA))/(1<<20), s.stixObjects, float64(stixSize)/(1<<20),
		s.apiObjects, float64(apiSize)/(1<<20))
	for _, name := range loadDatabases(t) {
		t.Run(name, func(t *testing.T) {
			dbURL := ""
			if name == "postgres" {
				dbURL = dbtest.PostgresURL(t)
			}
			runLoad(t, s, bin, dbURL, loadFiles{csvs: [][]byte{csvA, csvB}, cliBundle: stixPath, dir: files})
		})
	}
}

// buildMedisac builds the medisac binary the way make build does.
func buildMedisac(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "medisac")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/medisac")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// loadOrg is one seeded organisation and the credentials of its reader.
type loadOrg struct {
	id, name string
	token    string // API token
	cookie   string // web session
}

type loadFixture struct {
	readers  []loadOrg
	importer loadOrg
	assets   int
	vulnDocs int
	vulnErrs int
}

// loadEnv is the server's environment.
func loadEnv(dataDir, addr, dbURL string) map[string]string {
	env := map[string]string{
		"MEDISAC_DATA_DIR":  dataDir,
		"MEDISAC_ADDR":      addr,
		"MEDISAC_BASE_URL":  "http://" + addr,
		"MEDISAC_LOG_LEVEL": "warn",
	}
	if dbURL != "" {
		env["MEDISAC_DATABASE_URL"] = dbURL
	}
	return env
}

// loadFiles are the imports' files.
type loadFiles struct {
	csvs      [][]byte // register CSVs, alternating
	cliBundle string   // the command line STIX bundle
	dir       string   // where the API STIX bundles are written
}

func runLoad(t *testing.T, s loadSettings, bin, dbURL string, files loadFiles) {
	ctx := context.Background()
	dataDir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	env := loadEnv(dataDir, addr, dbURL)

	seedStart := time.Now()
	fx := seedLoad(t, env)
	fmt.Printf("load: seeded %d reader organisations, %d assets, %d vulnerability files (%d refused; NVD from %s) in %v\n",
		len(fx.readers), fx.assets, fx.vulnDocs, fx.vulnErrs, corpusDir("nvd"), time.Since(seedStart).Round(time.Millisecond))

	srv := startServer(t, bin, env, base, dataDir)
	// No redirects followed: a read sent to the sign-in page is a failure.
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	posts := seedSharePosts(t, client, base, fx.readers[0].token)
	settle := time.Now()
	pending := waitForJobs(t, env, 10*time.Minute)
	findings := waitForFindings(client, base, fx.readers, 30*time.Second)
	fmt.Printf("load: server up (pid %d); %d share posts imported; background jobs settled in %v (%d still due); %d findings visible to the first reader\n",
		srv.pid, posts, time.Since(settle).Round(time.Second), pending, findings)

	probeReads(client, base, fx.readers[0])

	sampler := startRSSSampler(srv.pid)
	runCtx, stopImports := context.WithCancel(ctx)
	var imports []importRun
	var impWG sync.WaitGroup
	imp := importer{bin: bin, env: env, base: base, org: fx.importer, files: files, apiObjects: s.apiObjects}
	impWG.Go(func() { imports = imp.run(runCtx) })

	res := openLoop(ctx, client, base, fx.readers, s.rate, s.duration)
	readsEnded := time.Now()
	stopImports()
	impWG.Wait()
	if d := time.Since(readsEnded); d > 5*time.Second {
		fmt.Printf("load: the command line import in progress at the end of the reads finished %v after them\n", d.Round(time.Second))
	}
	rss := sampler.stop()
	srv.stop(t)

	report(t, s, dbURL, res, imports, rss)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// seedLoad fills the database before the server starts, through the same
// stores the server uses.
func seedLoad(t *testing.T, env map[string]string) loadFixture {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig()
	if err := cfg.loadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(ctx, &cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer n.DB.Close()
	now := time.Now()
	var fx loadFixture
	kinds := []auth.OrgKind{auth.KindHospital, auth.KindClinic, auth.KindPharmacy, auth.KindHospital, auth.KindClinic}
	pol := auth.SessionPolicy{Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute}
	mk := func(i int, kind auth.OrgKind, name string, write bool) loadOrg {
		var o loadOrg
		err := n.DB.InTx(ctx, func(tx *db.Tx) error {
			org, err := auth.CreateOrg(ctx, tx, auth.OrgInput{Kind: kind, Name: name, Prefecture: "東京都"}, now)
			if err != nil {
				return err
			}
			email := fmt.Sprintf("load%d@load.medisac.test", i)
			u, err := auth.CreateUser(ctx, tx, auth.NewUser{Email: email, DisplayName: "負荷試験 " + strconv.Itoa(i), Lang: "ja",
				Password: demoPassword(demoUser{email: email, name: "負荷試験 " + strconv.Itoa(i)})}, now)
			if err != nil {
				return err
			}
			if err := auth.AddMember(ctx, tx, org.ID, u.ID, auth.RoleAdmin, now); err != nil {
				return err
			}
			tok, _, err := auth.CreateToken(ctx, tx, u.ID, org.ID, "load", write, nil, now)
			if err != nil {
				return err
			}
			cookie, _, err := auth.CreateSession(ctx, tx, u.ID, org.ID, true, "127.0.0.1", "medisac-load", pol, now)
			if err != nil {
				return err
			}
			o = loadOrg{id: org.ID, name: org.Name, token: tok, cookie: cookie}
			return nil
		})
		if err != nil {
			t.Fatalf("seed organisation %s: %v", name, err)
		}
		return o
	}
	for i, k := range kinds {
		fx.readers = append(fx.readers, mk(i, k, fmt.Sprintf("負荷試験 医療機関%d", i+1), true))
	}
	fx.importer = mk(len(kinds), auth.KindHospital, "負荷試験 取込病院", true)
	// A register of 1,000 assets per reader organisation, with products
	// that the vulnerability corpus knows.
	for i, o := range fx.readers {
		data := registerCSV(t, n.DB, o.id, 1000, fmt.Sprintf("R%d", i))
		p, err := inventory.ImportFile(ctx, n.DB, mustCatalog(), o.id, "", "register.csv", data, false, now)
		if err != nil {
			t.Fatalf("seed register of %s: %v", o.name, err)
		}
		fx.assets += p.Counts[inventory.SheetAssets][inventory.RowNew]
	}
	w := newWatch(&cfg, n.DB, n.Audit, n.Queue)
	for _, kind := range []string{"nvd", "kev", "fortinet", "csaf", "jvn", "epss"} {
		dir := corpusDir(kind)
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(path, "schema") {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return nil
			}
			defer f.Close()
			fx.vulnDocs++
			if _, err := w.Import(ctx, filepath.Base(path), f); err != nil {
				fx.vulnErrs++
			}
			return nil
		})
	}
	return fx
}

// loadDataDir, when it exists, holds a larger copy of the public data
// sets (for instance 1,114 Fortinet advisories where the repository keeps
// 8); without it the seed uses the files under the repository's testdata
// folders, which are enough for every read to have data.
const loadDataDir = "/work/shared/data"

// corpusDir is the folder of one kind of vulnerability file: the larger
// data set's when present, else (or with MEDISAC_LOAD_CORPUS=repo)
// internal/vuln/testdata's (this test runs in internal/app).
func corpusDir(kind string) string {
	if os.Getenv("MEDISAC_LOAD_CORPUS") == "repo" {
		return filepath.Join("..", "vuln", "testdata", kind)
	}
	if st, err := os.Stat(filepath.Join(loadDataDir, kind)); err == nil && st.IsDir() {
		return filepath.Join(loadDataDir, kind)
	}
	return filepath.Join("..", "vuln", "testdata", kind)
}

// registerCSV is a register CSV (the columns of the export) with n asset
// rows named with prefix; variant changes every row's notes.
func registerCSV(t testing.TB, d *db.DB, orgID string, n int, prefix string) []byte {
	t.Helper()
	var hdr bytes.Buffer
	if err := inventory.Export(context.Background(), d, mustCatalog(), orgID, "csv", &hdr, inventory.DateOf(time.Now())); err != nil {
		t.Fatalf("export header: %v", err)
	}
	header, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(hdr.Bytes(), []byte("\xef\xbb\xbf")))).Read()
	if err != nil {
		t.Fatalf("read export header: %v", err)
	}
	products := []struct{ kind, vendor, product, version string }{
		{"ネットワーク機器", "Fortinet", "FortiOS", "6.4.0"},
		{"ネットワーク機器", "Fortinet", "FortiOS", "7.0.1"},
		{"サーバ", "VMware", "ESXi", "7.0"},
		{"ネットワーク機器", "Citrix", "NetScaler ADC", "13.0"},
		{"ネットワーク機器", "Ivanti", "Connect Secure", "9.1R18"},
		{"ネットワーク機器", "Palo Alto Networks", "PAN-OS", "10.2.0"},
		{"ネットワーク機器", "SonicWall", "SonicOS", "7.0.1"},
		{"PC", "Microsoft", "Windows 10", "1909"},
		{"サーバ", "Microsoft", "Exchange Server", "2016"},
		{"医療機器", "メーカー", "製品", "1.2.3"},
	}
	segs := []string{"医療系", "情報系", "保守用", "ゲスト"}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for i := range n {
		p := products[i%len(products)]
		v := map[string]string{
			"名称": fmt.Sprintf("%s端末%06d", prefix, i), "種別": p.kind, "用途": "受付", "メーカー": p.vendor, "製品名": p.product,
			"型番": "MODEL-1", "バージョン": p.version, "シリアル番号": fmt.Sprintf("SN%08d", i), "ホスト名": fmt.Sprintf("host%06d", i),
			"IPアドレス": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "セグメント": segs[i%len(segs)], "設置場所": "1階",
			"管理部門": "医事課", "保守業者": "A社", "備考": "備考 " + prefix, "状態": "使用中",
		}
		row := make([]string, len(header))
		for j, h := range header {
			row[j] = v[h]
		}
		w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}

// loadRegisterCSV makes the import file in a scratch SQLite database (for
// the export's header).
func loadRegisterCSV(t *testing.T, n int, variant string) []byte {
	t.Helper()
	d := dbtest.SQLite(t)
	org, err := auth.CreateOrg(context.Background(), d, auth.OrgInput{Kind: auth.KindHospital, Name: "header"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := registerCSV(t, d, org.ID, n, "I")
	// Variant B changes every row, so that imports alternate between
	// writing 100,000 new values and writing them back.
	if variant == "B" {
		b = bytes.ReplaceAll(b, []byte("備考 I"), []byte("備考 I (変更)"))
	}
	return b
}

// writeSTIXBundle writes a STIX 2.1 bundle of n objects numbered from
// first (so that bundles with different first numbers share no object):
// reports each referring to the up to 999 indicators before it, as a
// feed's bundle would be. It returns the file's size.
func writeSTIXBundle(path string, n, first int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	id := func(kind string, i int) string {
		return fmt.Sprintf("%s--%08x-0000-4000-8000-%012x", kind, i>>16, i)
	}
	const ts = "2026-01-05T00:00:00.000Z"
	fmt.Fprintf(w, `{"type":"bundle","id":"%s","objects":[`, id("bundle", first))
	const group = 1000 // objects per report, the report included
	for g := 0; g < n; g += group {
		size := min(group, n-g)
		for j := range size - 1 {
			i := first + g + j
			fmt.Fprintf(w, `{"type":"indicator","spec_version":"2.1","id":"%s","created":"%s","modified":"%s","name":"load %d","indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '45.%d.%d.%d']","pattern_type":"stix","valid_from":"%s"},`+"\n",
				id("indicator", i), ts, ts, i, i>>16&255, i>>8&255, i&255, ts)
		}
		fmt.Fprintf(w, `{"type":"report","spec_version":"2.1","id":"%s","created":"%s","modified":"%s","name":"負荷試験の報告 %d","published":"%s","report_types":["threat-report"],"object_refs":[`,
			id("report", first+g), ts, ts, first+g, ts)
		for j := range size - 1 {
			if j > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `"%s"`, id("indicator", first+g+j))
		}
		w.WriteString("]}")
		if g+size < n {
			w.WriteString(",\n")
		}
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

type serverProc struct {
	cmd  *exec.Cmd
	pid  int
	done chan error
	log  string
}

func startServer(t *testing.T, bin string, env map[string]string, base, dataDir string) *serverProc {
	t.Helper()
	logPath := filepath.Join(dataDir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan error, 1), log: logPath}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("server exited at start: %v\n%s", err, b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server not healthy after 60 s")
		}
	}
}

func (p *serverProc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Log("server did not stop within 30 s of SIGTERM; killed")
	}
	if b, err := os.ReadFile(p.log); err == nil {
		// The data folder goes with the test; the log stays.
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("medisac-load-%s-server.log", strings.ReplaceAll(t.Name(), "/", "-")))
		if os.WriteFile(keep, b, 0o600) == nil {
			fmt.Printf("load: server log kept in %s\n", keep)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 0 && lines[0] != "" {
			fmt.Printf("load: server log: %d lines (warnings and errors); last:\n", len(lines))
			for _, l := range lines[max(0, len(lines)-5):] {
				fmt.Printf("    %.300s\n", l)
			}
		}
	}
}

// seedSharePosts imports the public STIX example bundles as the first
// reader, so that share lists have posts. It returns how many posts were
// created.
func seedSharePosts(t *testing.T, c *http.Client, base, token string) int {
	t.Helper()
	files, _ := filepath.Glob("../share/testdata/shared/stix/*.json")
	if len(files) == 0 {
		t.Fatal("no STIX example bundles under internal/share/testdata/shared/stix")
	}
	posts := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/share/import?tlp=green", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			continue
		}
		var out struct {
			Posts []json.RawMessage `json:"posts"`
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			fmt.Printf("load: share seed %s: HTTP %d %.200s\n", filepath.Base(f), res.StatusCode, body)
			continue
		}
		_ = json.Unmarshal(body, &out)
		posts += len(out.Posts)
	}
	return posts
}

// waitForJobs waits until the server's background jobs that are due (the
// matching of the seeded register against the corpus) are done, so that the
// run measures the imports rather than the seeding. It returns how many
// were still due after wait.
func waitForJobs(t *testing.T, env map[string]string, wait time.Duration) int {
	t.Helper()
	ctx := context.Background()
	target := env["MEDISAC_DATABASE_URL"]
	if target == "" {
		target = filepath.Join(env["MEDISAC_DATA_DIR"], "medisac.db")
	}
	d, err := db.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	deadline := time.Now().Add(wait)
	for {
		var n int
		err := d.QueryRow(ctx, `SELECT COUNT(*) FROM jobs WHERE state IN ('queued','running') AND run_at <= ?`, time.Now()).Scan(&n)
		if err == nil && n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Second)
	}
}

// waitForFindings waits for the server's matching jobs to give the first
// reader findings, and returns how many it sees (0 after the wait).
func waitForFindings(c *http.Client, base string, readers []loadOrg, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/orgs/"+readers[0].id+"/vuln/findings?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+readers[0].token)
		if res, err := c.Do(req); err == nil {
			var out struct {
				Total int `json:"total"`
			}
			_ = json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if out.Total > 0 || time.Now().After(deadline) {
				return out.Total
			}
		} else if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(time.Second)
	}
}

// rssSampler reads the server's VmRSS and VmHWM every second.
type rssSampler struct {
	stopc chan struct{}
	done  chan rssResult
}

type rssResult struct {
	peakRSS, hwm float64 // MiB
	samples      int
}

func startRSSSampler(pid int) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan rssResult, 1)}
	go func() {
		var r rssResult
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if rss, hwm, ok := readStatus(pid); ok {
				r.peakRSS, r.hwm = max(r.peakRSS, rss), max(r.hwm, hwm)
				r.samples++
			}
			select {
			case <-s.stopc:
				s.done <- r
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() rssResult {
	close(s.stopc)
	return <-s.done
}

func readStatus(pid int) (rss, hwm float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return rss, hwm, true
}

// importRun is one import of the background writer.
type importRun struct {
	kind     string // "register", "stix api" or "stix cli"
	started  time.Time
	duration time.Duration
	status   int     // HTTP status (0 when no answer) or the command's exit code
	outcome  string  // short description
	maxRSS   float64 // the command's peak memory (MiB, from wait4's rusage)
	late     bool    // the command ran on after the reads ended
}

// importer runs the imports of the importing organisation.
type importer struct {
	bin        string
	env        map[string]string
	base       string
	org        loadOrg
	files      loadFiles
	apiObjects int
}

// run runs imports back to back until ctx ends, in turns of four: a
// register import through the API, the large STIX bundle through
// `medisac share import` (a separate process), another register import,
// then a STIX bundle of new objects through the API. An API import in
// progress when ctx ends is recorded as cut off; the command line import
// is left to finish.
func (im importer) run(ctx context.Context) []importRun {
	c := &http.Client{} // no time-out: an import may take long
	var runs []importRun
	for i := 0; ctx.Err() == nil; i++ {
		var run importRun
		switch i % 4 {
		case 0, 2:
			run = im.register(ctx, c, im.files.csvs[(i/2)%len(im.files.csvs)])
		case 1:
			run = im.cli(ctx)
		case 3:
			run = im.apiSTIX(ctx, c, i)
		}
		runs = append(runs, run)
		if run.status == 0 && ctx.Err() == nil {
			time.Sleep(time.Second) // the server may be gone; do not spin
		}
	}
	return runs
}

func (im importer) register(ctx context.Context, c *http.Client, data []byte) importRun {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, im.base+"/api/v1/orgs/"+im.org.id+"/inventory/import/apply?filename=register.csv",
		bytes.NewReader(data))
	req.Header.Set("Content-Type", "text/csv")
	return im.post(ctx, c, "register", req)
}

// apiSTIX writes a bundle of new objects (numbered after the command line
// bundle's) and imports it through the API.
func (im importer) apiSTIX(ctx context.Context, c *http.Client, turn int) importRun {
	path := filepath.Join(im.files.dir, "api-bundle.json")
	if _, err := writeSTIXBundle(path, im.apiObjects, 1<<30+turn*im.apiObjects); err != nil {
		return importRun{kind: "stix api", started: time.Now(), outcome: err.Error()}
	}
	f, err := os.Open(path)
	if err != nil {
		return importRun{kind: "stix api", started: time.Now(), outcome: err.Error()}
	}
	defer f.Close()
	st, _ := f.Stat()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, im.base+"/api/v1/share/import", f)
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/json")
	return im.post(ctx, c, "stix api", req)
}

// post sends an import with Prefer: respond-async: the server answers
// 202 with the import job at once, and post follows the job
// (GET /api/v1/imports/{id}) until it ends, so that no request outlasts the
// server's write time-out.
func (im importer) post(ctx context.Context, c *http.Client, kind string, req *http.Request) importRun {
	run := importRun{kind: kind, started: time.Now()}
	req.Header.Set("Authorization", "Bearer "+im.org.token)
	req.Header.Set("Prefer", "respond-async")
	res, err := c.Do(req)
	switch {
	case err != nil && ctx.Err() != nil:
		run.outcome = "cut off at the end of the run"
	case err != nil:
		run.outcome = "no answer: " + err.Error()
	default:
		run.status = res.StatusCode
		body, _ := io.ReadAll(io.LimitReader(res.Body, 256<<20))
		res.Body.Close()
		if res.StatusCode == http.StatusAccepted {
			run.status, body = im.follow(ctx, c, res.Header.Get("Location"))
		}
		if run.status == 0 {
			run.outcome = "cut off at the end of the run"
		} else {
			run.outcome = importOutcome(kind, run.status, body)
		}
	}
	run.duration = time.Since(run.started)
	return run
}

// follow polls an import job until it ends and returns 200 and its result
// when done, else the status of its error code and the error; 0 when ctx
// ends first.
func (im importer) follow(ctx context.Context, c *http.Client, loc string) (int, []byte) {
	for {
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(time.Second):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, im.base+loc, nil)
		req.Header.Set("Authorization", "Bearer "+im.org.token)
		res, err := c.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil
			}
			continue
		}
		var j struct {
			State  string          `json:"state"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		err = json.NewDecoder(res.Body).Decode(&j)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return res.StatusCode, nil
		}
		switch j.State {
		case "done":
			return http.StatusOK, j.Result
		case "failed", "interrupted":
			var e struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(j.Error, &e)
			return apperr.Status(apperr.Code(e.Code)), []byte(`{"error":` + string(j.Error) + `}`)
		}
	}
}

// cli imports the large bundle with `medisac share import --org ID FILE`,
// with the server's environment (same database), and measures the
// process's peak memory. It is not stopped when ctx ends.
func (im importer) cli(ctx context.Context) importRun {
	run := importRun{kind: "stix cli", started: time.Now()}
	cmd := exec.Command(im.bin, "share", "import", "--org", im.org.id, im.files.cliBundle)
	cmd.Env = os.Environ()
	for k, v := range im.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	run.duration = time.Since(run.started)
	run.late = ctx.Err() != nil
	if cmd.ProcessState != nil {
		run.status = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			run.maxRSS = float64(ru.Maxrss) / 1024 // KiB on Linux
		}
	}
	// The summary is the last line that is not a post.
	summary := ""
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "post ") && !strings.HasPrefix(l, "  failed ") {
			summary = l
		}
	}
	if err != nil {
		run.outcome = fmt.Sprintf("failed: %v: %.300s", err, summary)
	} else {
		run.outcome = "ok: " + summary
	}
	return run
}

func importOutcome(kind string, status int, body []byte) string {
	if status != http.StatusOK {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return fmt.Sprintf("refused: %s: %.160s", e.Error.Code, e.Error.Message)
		}
		return fmt.Sprintf("refused: %.160s", strings.TrimSpace(string(body)))
	}
	if kind == "register" {
		var p struct {
			Counts map[string]map[string]int `json:"counts"`
		}
		_ = json.Unmarshal(body, &p)
		c := p.Counts[inventory.SheetAssets]
		return fmt.Sprintf("ok: %d new, %d changed, %d unchanged", c["new"], c["changed"], c["unchanged"])
	}
	var r struct {
		Posts    []json.RawMessage `json:"posts"`
		Objects  int               `json:"objects"`
		Failures []json.RawMessage `json:"failures"`
	}
	_ = json.Unmarshal(body, &r)
	return fmt.Sprintf("ok: %d posts, %d objects, %d failures", len(r.Posts), r.Objects, len(r.Failures))
}

// probeReads times each read of the mix once, one after the other, on the
// idle server: what a read costs without load.
func probeReads(c *http.Client, base string, o loadOrg) {
	var b strings.Builder
	for _, k := range readMix {
		req, _ := http.NewRequest(http.MethodGet, base+k.path(o), nil)
		if k.web {
			req.AddCookie(&http.Cookie{Name: "medisac_session", Value: o.cookie})
		} else {
			req.Header.Set("Authorization", "Bearer "+o.token)
		}
		t0 := time.Now()
		status, n := 0, int64(0)
		if r, err := c.Do(req); err == nil {
			n, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			status = r.StatusCode
		}
		fmt.Fprintf(&b, " %s %s (%d, %d KB);", k.name, ms(time.Since(t0)), status, n>>10)
	}
	fmt.Printf("load: one read of each kind on the idle server:%s\n", strings.TrimSuffix(b.String(), ";"))
}

// readKind is one kind of read in the mix.
type readKind struct {
	name string
	web  bool // through the web session rather than the API token
	path func(o loadOrg) string
}

var readMix = []readKind{
	{"api findings", false, func(o loadOrg) string { return "/api/v1/orgs/" + o.id + "/vuln/findings?limit=50" }},
	{"api vulns", false, func(loadOrg) string { return "/api/v1/vulns?limit=50" }},
	{"api vulns search", false, func(loadOrg) string { return "/api/v1/vulns?q=FortiOS&limit=50" }},
	{"api assets", false, func(o loadOrg) string { return "/api/v1/orgs/" + o.id + "/inventory/assets?limit=50" }},
	{"api share posts", false, func(loadOrg) string { return "/api/v1/share/posts" }},
	{"api vuln summary", false, func(o loadOrg) string { return "/api/v1/orgs/" + o.id + "/vuln/summary" }},
	{"web home", true, func(loadOrg) string { return "/" }},
	{"web vuln", true, func(loadOrg) string { return "/vuln" }},
	{"web inventory", true, func(loadOrg) string { return "/inventory" }},
	{"web share", true, func(loadOrg) string { return "/share" }},
}

type loadResult struct {
	lat      []time.Duration // every request, success or not
	slots    []loadSlot      // by scheduled time, 30 s each
	byKind   map[string][]time.Duration
	errors   map[string]int
	ok, sent int
	late     int // arrivals sent more than 10 ms after their time
	elapsed  time.Duration
}

// openLoop sends rate requests per second for d, each at its scheduled
// time whatever the answers do, and measures each from that time.
func openLoop(ctx context.Context, c *http.Client, base string, readers []loadOrg, rate int, d time.Duration) loadResult {
	res := loadResult{byKind: map[string][]time.Duration{}, errors: map[string]int{}, slots: make([]loadSlot, int(d/loadSlotLen)+1)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	total := int(d / interval)
	start := time.Now().Add(100 * time.Millisecond)
	var late atomic.Int64
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		} else if -wait > 10*time.Millisecond {
			late.Add(1)
		}
		k := readMix[i%len(readMix)]
		o := readers[(i/len(readMix))%len(readers)]
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+k.path(o), nil)
			if k.web {
				req.AddCookie(&http.Cookie{Name: "medisac_session", Value: o.cookie})
			} else {
				req.Header.Set("Authorization", "Bearer "+o.token)
			}
			status := ""
			r, err := c.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if err == nil && r.StatusCode != http.StatusOK {
					status = strconv.Itoa(r.StatusCode)
				}
			}
			lat := time.Since(at)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() || lat >= c.Timeout {
					status = "time-out"
				} else {
					status = "error: " + err.Error()
				}
			} else if lat >= c.Timeout {
				status = "time-out"
			}
			mu.Lock()
			res.lat = append(res.lat, lat)
			slot := &res.slots[min(int(at.Sub(start)/loadSlotLen), len(res.slots)-1)]
			slot.lat = append(slot.lat, lat)
			if status != "" {
				slot.failed++
			}
			res.byKind[k.name] = append(res.byKind[k.name], lat)
			res.sent++
			if status == "" {
				res.ok++
			} else {
				res.errors[status+" ("+k.name+")"]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.late = int(late.Load())
	return res
}

// loadSlot is the reads scheduled in one stretch of the run.
type loadSlot struct {
	lat    []time.Duration
	failed int
}

const loadSlotLen = 30 * time.Second

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func report(t *testing.T, s loadSettings, dbURL string, r loadResult, imports []importRun, rss rssResult) {
	name := "SQLite"
	if dbURL != "" {
		name = "PostgreSQL"
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	success := 0.0
	if r.sent > 0 {
		success = 100 * float64(r.ok) / float64(r.sent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n== load: %s, %d reads/s for %v (%d arrivals later than 10 ms)\n", name, s.rate, s.duration, r.late)
	fmt.Fprintf(&b, "%-22s %s\n", "requests", strconv.Itoa(r.sent))
	fmt.Fprintf(&b, "%-22s %.2f %% (%d failed)\n", "success", success, r.sent-r.ok)
	fmt.Fprintf(&b, "%-22s p50 %s  p95 %s  p99 %s  max %s\n", "latency", ms(pct(r.lat, .50)), ms(pct(r.lat, .95)), ms(pct(r.lat, .99)), ms(pct(r.lat, 1)))
	fmt.Fprintf(&b, "%-22s peak VmRSS %.0f MiB, VmHWM %.0f MiB (%d samples)\n", "server memory", rss.peakRSS, rss.hwm, rss.samples)
	fmt.Fprintf(&b, "\n%-20s %7s %10s %10s %10s %10s\n", "read", "count", "p50", "p95", "p99", "max")
	kinds := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		l := r.byKind[k]
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		fmt.Fprintf(&b, "%-20s %7d %10s %10s %10s %10s\n", k, len(l), ms(pct(l, .5)), ms(pct(l, .95)), ms(pct(l, .99)), ms(pct(l, 1)))
	}
	fmt.Fprintf(&b, "\nby time of arrival (%v each):\n", loadSlotLen)
	for i, sl := range r.slots {
		if len(sl.lat) == 0 {
			continue
		}
		sort.Slice(sl.lat, func(i, j int) bool { return sl.lat[i] < sl.lat[j] })
		fmt.Fprintf(&b, "  +%-6v %6d reads %5d failed  p50 %10s  p99 %10s  max %10s\n", time.Duration(i)*loadSlotLen, len(sl.lat), sl.failed,
			ms(pct(sl.lat, .5)), ms(pct(sl.lat, .99)), ms(pct(sl.lat, 1)))
	}
	if len(r.errors) > 0 {
		fmt.Fprintf(&b, "\nerrors by status:\n")
		keys := make([]string, 0, len(r.errors))
		for k := range r.errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-50.200s %d\n", k, r.errors[k])
		}
	}
	fmt.Fprintf(&b, "\nimports (back to back, as another organisation; stix cli is a separate process, its status the exit code):\n")
	for i, im := range imports {
		fmt.Fprintf(&b, "  %2d %-8s at +%-6s %9s  %-3d %s\n", i+1, im.kind, im.started.Sub(imports[0].started).Round(time.Second),
			im.duration.Round(10*time.Millisecond), im.status, im.outcome)
		if im.kind == "stix cli" {
			when := "within the reads"
			if im.late {
				when = "finished after the reads ended"
			}
			fmt.Fprintf(&b, "     %-8s    command line import's peak memory (maxrss) %.0f MiB; %s\n", "", im.maxRSS, when)
		}
	}
	fmt.Print(b.String())
	if r.sent == 0 || r.ok != r.sent {
		t.Errorf("target missed on %s: success %.2f %%, want 100 %%", name, success)
	}
	if p := pct(r.lat, .99); p > s.targetP99 {
		t.Errorf("target missed on %s: p99 %s, want ≤ %s", name, ms(p), ms(s.targetP99))
	}
	if rss.hwm > s.targetRSSMB {
		t.Errorf("target missed on %s: server memory %.0f MiB, want ≤ %.0f MiB", name, rss.hwm, s.targetRSSMB)
	}
}

// TestLoadImportLockHold measures one register import of
// MEDISAC_LOAD_IMPORT_ROWS rows (inventory.Service.ApplyImport, as every
// door runs it): its write transactions (how many, the longest) and how
// long a small write by another organisation waits meanwhile. The import
// writes in short transactions (staged, then applied chunk by chunk), so
// on SQLite no write waits behind the whole import.
func TestLoadImportLockHold(t *testing.T) {
	s := loadSettingsFromEnv(t)
	for _, name := range loadDatabases(t) {
		t.Run(name, func(t *testing.T) {
			var d *db.DB
			if name == "postgres" {
				d = dbtest.Postgres(t)
			} else {
				d = dbtest.SQLite(t)
			}
			ctx := context.Background()
			org, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "取込病院"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			svc := inventory.NewService(d, audit.New(d, nil, mustCatalog(), nil), mustCatalog(), nil)
			a := registerCSV(t, d, org.ID, s.importRows, "I")
			b := bytes.ReplaceAll(a, []byte("備考 I"), []byte("備考 I (変更)"))
			for _, step := range []struct {
				name string
				data []byte
			}{{"new", a}, {"changed", b}, {"unchanged", b}} {
				stop := make(chan struct{})
				probe := make(chan [2]time.Duration, 1)
				go func() {
					// Another organisation's small writes, one every 20 ms.
					var worst, total time.Duration
					n := 0
					for i := 0; ; i++ {
						select {
						case <-stop:
							probe <- [2]time.Duration{worst, total / time.Duration(max(n, 1))}
							return
						case <-time.After(20 * time.Millisecond):
						}
						t0 := time.Now()
						if _, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindClinic, Name: fmt.Sprintf("他院 %s %d", step.name, i)}, time.Now()); err != nil {
							t.Errorf("other organisation's write: %v", err)
						}
						el := time.Since(t0)
						worst, total, n = max(worst, el), total+el, n+1
					}
				}()
				time.Sleep(100 * time.Millisecond)
				start := time.Now()
				p, err := svc.ApplyImport(ctx, auth.CommandLine("load", org.ID), org.ID, "register.csv", step.data)
				total := time.Since(start)
				close(stop)
				w := <-probe
				if err != nil {
					t.Fatalf("%s import: %v", step.name, err)
				}
				c := p.Counts[inventory.SheetAssets]
				fmt.Printf("load: %s ApplyImport %d rows (%s: %d new, %d changed, %d unchanged): %d write transactions, longest %v (%s) (call %v); another organisation's small write waited up to %v (mean %v)\n",
					name, s.importRows, step.name, c[inventory.RowNew], c[inventory.RowChanged], c[inventory.RowUnchanged],
					p.Stats.Transactions, p.Stats.Longest.Round(time.Millisecond), p.Stats.LongestStep, total.Round(time.Millisecond), w[0].Round(time.Millisecond), w[1].Round(time.Millisecond))
			}
		})
	}
}
