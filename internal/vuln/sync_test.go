package vuln

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// feedServer serves the real feed files the way their publishers do: NVD
// API pages with startIndex paging, KEV JSON, EPSS .csv.gz, a JVN RSS
// feed and a CSAF provider with a directory distribution (changes.csv).
type feedServer struct {
	mu        sync.Mutex
	nvd       []json.RawMessage
	queries   []string
	keys      []string
	broken    bool
	jvnStarts []string
}

func newFeedServer(t *testing.T) (*feedServer, *httptest.Server) {
	t.Helper()
	fs := &feedServer{}
	files, _ := filepath.Glob(td("nvd", "CVE-*.json"))
	sort.Strings(files)
	for _, f := range files {
		if strings.Contains(f, "awaiting") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fs.nvd = append(fs.nvd, b)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/json/cves/2.0", func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.queries = append(fs.queries, r.URL.RawQuery)
		fs.keys = append(fs.keys, r.Header.Get("apiKey"))
		q := r.URL.Query()
		start, _ := strconv.Atoi(q.Get("startIndex"))
		per, _ := strconv.Atoi(q.Get("resultsPerPage"))
		recs := fs.nvd
		if q.Get("lastModStartDate") != "" {
			recs = recs[:1]
		}
		end := min(start+per, len(recs))
		var items []string
		for _, rec := range recs[min(start, len(recs)):end] {
			items = append(items, `{"cve":`+string(rec)+`}`)
		}
		if fs.broken {
			items = append(items, `{"cve":{"id":"CVE-X"}}`)
		}
		fmt.Fprintf(w, `{"resultsPerPage":%d,"startIndex":%d,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-04-01T00:00:00.000","vulnerabilities":[%s]}`,
			end-start, start, len(recs), strings.Join(items, ","))
	})
	serve := func(path, file string) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) })
	}
	serve("/kev.json", td("kev", "kev_trimmed.json"))
	serve("/epss_scores-current.csv.gz", td("epss", "epss_scores-2023-03-07.csv.gz"))
	serve("/jvn/jvndb_new.rdf", td("jvn", "jvndb_new.rdf"))
	serve("/csaf/white/2024/va-24-201-01.json", td("csaf", "va-24-201-01.json"))
	mux.HandleFunc("GET /.well-known/csaf/provider-metadata.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"canonical_url":"/.well-known/csaf/provider-metadata.json","distributions":[{"directory_url":"/csaf/white/"}],
			"metadata_version":"2.0","publisher":{"category":"coordinator","name":"CISA","namespace":"https://www.cisa.gov/"},"role":"csaf_trusted_provider"}`)
	})
	mux.HandleFunc("GET /csaf/white/changes.csv", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "\"2024/va-24-201-01.json\",\"2024-09-18T16:00:00.000Z\"\n")
	})
	mux.HandleFunc("GET /rolie/provider-metadata.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"distributions":[{"rolie":{"feeds":[{"summary":"TLP:WHITE","tlp_label":"WHITE","url":"/rolie/white.json"}]}}],
			"publisher":{"category":"vendor","name":"Example","namespace":"https://example.jp"}}`)
	})
	mux.HandleFunc("GET /rolie/white.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"feed":{"id":"white","title":"CSAF feed (TLP:WHITE)","entry":[{"id":"VA-24-201-01","updated":"2024-09-18T16:00:00.000Z",
			"content":{"src":"/csaf/white/2024/va-24-201-01.json","type":"application/json"}}]}}`)
	})
	jvnPage, err := os.ReadFile(td("jvn", "jvndb_new.rdf"))
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /myjvn", func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.jvnStarts = append(fs.jvnStarts, r.URL.Query().Get("startItem"))
		fs.mu.Unlock()
		first := r.URL.Query().Get("startItem")
		if first == "" {
			first = "1"
		}
		status := `<status:Status xmlns:status="http://jvndb.jvn.jp/myjvn/Status" version="3.3" method="getVulnOverviewList" lang="ja" retCd="0" retMax="2" errCd="" errMsg="" totalRes="4" totalResRet="2" firstRes="` + first + `"/>`
		w.Write([]byte(strings.Replace(string(jvnPage), "</rdf:RDF>", status+"</rdf:RDF>", 1)))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return fs, srv
}

func TestSyncOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fs, srv := newFeedServer(t)
		c := testkit.NewClock(t0)
		w := newWatch(d, c)
		w.Sync = SyncConfig{NVDURL: srv.URL + "/rest/json/cves/2.0", NVDAPIKey: "k-123", NVDPageSize: 5, NVDDelay: time.Millisecond,
			KEVURL: srv.URL + "/kev.json", EPSSURL: srv.URL + "/epss_scores-current.csv.gz", JVNURLs: []string{srv.URL + "/jvn/jvndb_new.rdf", srv.URL + "/myjvn?method=getVulnOverviewList&feed=hnd&maxCountItem=2"},
			CSAFProviders: []string{srv.URL + "/.well-known/csaf/provider-metadata.json", srv.URL + "/rolie/provider-metadata.json"}}
		rep, err := w.SyncOnce(ctx, nil)
		if err != nil || len(rep.Errors) > 0 {
			t.Fatalf("sync: %v %v", err, rep.Errors)
		}
		formats, csafFiles := map[feed.Format]int{}, 0
		for _, r := range rep.Imports {
			formats[r.Format] += r.Records
			if r.Format == feed.FormatCSAF {
				csafFiles++
			}
		}
		if strings.Join(fs.jvnStarts, ",") != ",3" {
			t.Errorf("MyJVN pages asked: %q", fs.jvnStarts)
		}
		if csafFiles != 2 {
			t.Errorf("CSAF documents imported through the directory and the ROLIE feed: %d", csafFiles)
		}
		if formats[feed.FormatNVD] != len(fs.nvd) || formats[feed.FormatKEV] != 20 || formats[feed.FormatEPSS] == 0 || formats[feed.FormatJVNRSS] == 0 || formats[feed.FormatCSAF] == 0 {
			t.Errorf("imported %v", formats)
		}
		if len(fs.queries) != (len(fs.nvd)+4)/5 || fs.keys[0] != "k-123" || strings.Contains(fs.queries[0], "lastMod") {
			t.Errorf("first NVD run: %v %v", fs.queries, fs.keys)
		}
		for _, id := range []string{"CVE-2024-3400", "CVE-2022-42475"} {
			if _, err := GetVuln(ctx, d, id); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		// The next run asks only for records modified since the last one.
		c.Advance(time.Hour)
		fs.queries = nil
		if rep, err := w.SyncOnce(ctx, nil); err != nil || len(rep.Errors) > 0 {
			t.Fatalf("second sync: %v %v", err, rep.Errors)
		}
		if len(fs.queries) != 1 || !strings.Contains(fs.queries[0], "lastModStartDate=2026-04-01T09%3A00%3A00.000Z") {
			t.Errorf("incremental query: %v", fs.queries)
		}
		// A broken page is reported, the cursor does not move and the data
		// held stays.
		c.Advance(time.Hour)
		fs.broken, fs.queries = true, nil
		w.Sync.NVDPageSize = 1
		rep, err = w.SyncOnce(ctx, nil)
		if err != nil || len(rep.Errors) == 0 {
			t.Fatalf("broken page not reported: %v %v", err, rep)
		}
		cur, _ := w.syncCursor(ctx, "nvd")
		if !strings.HasPrefix(cur, "2026-04-01T10:00:00") {
			t.Errorf("cursor moved past a failed page: %q", cur)
		}
	})
}
