package vuln

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// SyncConfig says where the online feeds are. A feed with an empty URL is
// not synchronised; closed networks import files instead.
type SyncConfig struct {
	// NVDURL is the NVD CVE API 2.0 endpoint
	// (https://services.nvd.nist.gov/rest/json/cves/2.0). After the first
	// run only records modified since the previous run are fetched
	// (lastModStartDate/lastModEndDate, at most 120 days per window),
	// page by page.
	NVDURL string
	// NVDAPIKey is sent as the apiKey header when set.
	NVDAPIKey string
	// NVDPageSize is resultsPerPage (default and NVD's maximum 2000).
	NVDPageSize int
	// NVDDelay is the pause between NVD requests (default 6 s without an
	// API key and 0.6 s with one, as NVD asks).
	NVDDelay time.Duration
	// KEVURL is CISA's known_exploited_vulnerabilities.json.
	KEVURL string
	// EPSSURL is FIRST's daily epss_scores-current.csv.gz.
	EPSSURL string
	// JVNURLs are JVNRSS files (jvndb_new.rdf …), imported as they are,
	// or MyJVN API calls (…/myjvn?method=getVulnOverviewList… or
	// getVulnDetailInfo…), followed page by page with startItem.
	JVNURLs []string
	// CSAFProviders are provider-metadata.json addresses; their
	// distributions (directory with changes.csv, or ROLIE feeds) are
	// followed and new or changed advisories imported.
	CSAFProviders []string
	// Interval is how often the periodic sync runs (default 1 h).
	Interval time.Duration
}

// Enabled reports whether any feed is configured.
func (c SyncConfig) Enabled() bool {
	return c.NVDURL != "" || c.KEVURL != "" || c.EPSSURL != "" || len(c.JVNURLs) > 0 || len(c.CSAFProviders) > 0
}

func (c SyncConfig) interval() time.Duration {
	if c.Interval <= 0 {
		return time.Hour
	}
	return c.Interval
}

// SyncReport lists what one sync imported.
type SyncReport struct {
	Imports []ImportResult `json:"imports"`
	Errors  []string       `json:"errors,omitempty"`
}

// SyncOnce runs every configured feed once. A feed that fails is reported
// and recorded (vuln_sync_state) without stopping the others. fn, when
// not nil, is told about each imported file.
func (w *Watch) SyncOnce(ctx context.Context, fn func(ImportResult, error)) (SyncReport, error) {
	w.init()
	var rep SyncReport
	note := func(res ImportResult, err error) {
		if fn != nil {
			fn(res, err)
		}
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", res.Name, err))
			return
		}
		rep.Imports = append(rep.Imports, res)
	}
	type feed struct {
		name string
		run  func(context.Context, func(ImportResult, error)) error
	}
	var feeds []feed
	if w.Sync.KEVURL != "" {
		feeds = append(feeds, feed{"kev", func(ctx context.Context, n func(ImportResult, error)) error {
			return w.fetchImport(ctx, "kev", w.Sync.KEVURL, nil, n)
		}})
	}
	if w.Sync.NVDURL != "" {
		feeds = append(feeds, feed{"nvd", w.syncNVD})
	}
	if w.Sync.EPSSURL != "" {
		feeds = append(feeds, feed{"epss", func(ctx context.Context, n func(ImportResult, error)) error {
			return w.fetchImport(ctx, "epss", w.Sync.EPSSURL, nil, n)
		}})
	}
	for i, u := range w.Sync.JVNURLs {
		feeds = append(feeds, feed{"jvn" + strconv.Itoa(i), func(ctx context.Context, n func(ImportResult, error)) error {
			return w.syncJVN(ctx, u, n)
		}})
	}
	for i, u := range w.Sync.CSAFProviders {
		feeds = append(feeds, feed{"csaf" + strconv.Itoa(i), func(ctx context.Context, n func(ImportResult, error)) error {
			return w.syncCSAF(ctx, "csaf"+strconv.Itoa(i), u, n)
		}})
	}
	for _, f := range feeds {
		err := f.run(ctx, note)
		msg := ""
		if err != nil {
			msg = err.Error()
			rep.Errors = append(rep.Errors, f.name+": "+msg)
		}
		if serr := w.setSyncState(ctx, f.name, nil, err == nil, msg); serr != nil {
			return rep, serr
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func (w *Watch) syncCursor(ctx context.Context, name string) (string, error) {
	var c string
	err := w.DB.QueryRow(ctx, `SELECT sync_cursor FROM vuln_sync_state WHERE name = ?`, name).Scan(&c)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return "", nil
	}
	return c, err
}

func (w *Watch) setSyncState(ctx context.Context, name string, cursor *string, ok bool, msg string) error {
	now := w.now()
	var lastOK any
	if ok {
		lastOK = now
	}
	c := ""
	if cursor != nil {
		c = *cursor
	}
	_, err := w.DB.Exec(ctx, `INSERT INTO vuln_sync_state (name, sync_cursor, last_ok, last_error, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET sync_cursor = CASE WHEN ? THEN excluded.sync_cursor ELSE vuln_sync_state.sync_cursor END,
		last_ok = COALESCE(excluded.last_ok, vuln_sync_state.last_ok), last_error = excluded.last_error, updated_at = excluded.updated_at`,
		name, c, lastOK, clipText(msg, 1000), now, cursor != nil)
	return err
}

// get fetches a URL; the caller closes the body.
func (w *Watch) get(ctx context.Context, u string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "medisac vulnerability watch")
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return resp, nil
}

// getBody fetches u (see get) and returns at most limit bytes of its body.
func (w *Watch) getBody(ctx context.Context, u string, header http.Header, limit int64) ([]byte, error) {
	resp, err := w.get(ctx, u, header)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}

func (w *Watch) fetchImport(ctx context.Context, feed, u string, header http.Header, fn func(ImportResult, error)) error {
	resp, err := w.get(ctx, u, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	name := feed + ":" + u
	if pu, err := url.Parse(u); err == nil {
		if base := pu.Path[strings.LastIndex(pu.Path, "/")+1:]; base != "" {
			name = base
		}
	}
	res, err := w.Import(ctx, name, resp.Body)
	fn(res, err)
	return err
}

// nvdWindow is NVD's limit on a lastModified range.
const nvdWindow = 120 * 24 * time.Hour

func (w *Watch) syncNVD(ctx context.Context, fn func(ImportResult, error)) error {
	cursor, err := w.syncCursor(ctx, "nvd")
	if err != nil {
		return err
	}
	size := w.Sync.NVDPageSize
	if size <= 0 || size > 2000 {
		size = 2000
	}
	delay := w.Sync.NVDDelay
	if delay == 0 {
		delay = 6 * time.Second
		if w.Sync.NVDAPIKey != "" {
			delay = 600 * time.Millisecond
		}
	}
	header := http.Header{}
	if w.Sync.NVDAPIKey != "" {
		header.Set("apiKey", w.Sync.NVDAPIKey)
	}
	end := w.now()
	var start time.Time
	if cursor != "" {
		if start, err = time.Parse(time.RFC3339Nano, cursor); err != nil {
			start = time.Time{}
		}
	}
	for {
		winEnd := end
		if !start.IsZero() && winEnd.Sub(start) > nvdWindow {
			winEnd = start.Add(nvdWindow)
		}
		if err := w.nvdPages(ctx, start, winEnd, size, delay, header, fn); err != nil {
			return err
		}
		c := winEnd.Format(time.RFC3339Nano)
		if err := w.setSyncState(ctx, "nvd", &c, true, ""); err != nil {
			return err
		}
		if start.IsZero() || !winEnd.Before(end) {
			return nil
		}
		start = winEnd
	}
}

func (w *Watch) nvdPages(ctx context.Context, start, end time.Time, size int, delay time.Duration, header http.Header, fn func(ImportResult, error)) error {
	for index := 0; ; {
		q := url.Values{}
		q.Set("resultsPerPage", strconv.Itoa(size))
		q.Set("startIndex", strconv.Itoa(index))
		if !start.IsZero() {
			q.Set("lastModStartDate", start.UTC().Format("2006-01-02T15:04:05.000Z"))
			q.Set("lastModEndDate", end.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		u := w.Sync.NVDURL
		if strings.Contains(u, "?") {
			u += "&" + q.Encode()
		} else {
			u += "?" + q.Encode()
		}
		body, err := w.getBody(ctx, u, header, feed.MaxFeedBytes)
		if err != nil {
			return err
		}
		var page struct {
			ResultsPerPage int `json:"resultsPerPage"`
			StartIndex     int `json:"startIndex"`
			TotalResults   int `json:"totalResults"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return feedErr("vuln.feed.not_json", "nvd", err)
		}
		if page.TotalResults == 0 {
			return nil
		}
		res, err := w.Import(ctx, fmt.Sprintf("nvd-api-%d", index), bytes.NewReader(body))
		fn(res, err)
		if err != nil {
			return err
		}
		if page.ResultsPerPage <= 0 {
			return nil
		}
		index = page.StartIndex + page.ResultsPerPage
		if index >= page.TotalResults {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// providerMetadata is the part of a CSAF provider-metadata.json followed.
type providerMetadata struct {
	CanonicalURL  string `json:"canonical_url"`
	Distributions []struct {
		DirectoryURL string `json:"directory_url"`
		ROLIE        *struct {
			Feeds []struct {
				URL string `json:"url"`
			} `json:"feeds"`
		} `json:"rolie"`
	} `json:"distributions"`
	Publisher struct {
		Name string `json:"name"`
	} `json:"publisher"`
}

// syncCSAF follows a provider's metadata to its advisories: for a
// directory distribution the changes.csv list (path, time), for ROLIE the
// feed entries; documents changed after the previous run are imported.
func (w *Watch) syncCSAF(ctx context.Context, name, metaURL string, fn func(ImportResult, error)) error {
	cursor, err := w.syncCursor(ctx, name)
	if err != nil {
		return err
	}
	var since time.Time
	if cursor != "" {
		since, _ = time.Parse(time.RFC3339Nano, cursor)
	}
	resp, err := w.get(ctx, metaURL, nil)
	if err != nil {
		return err
	}
	var meta providerMetadata
	err = json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&meta)
	resp.Body.Close()
	if err != nil {
		return feedErr("vuln.feed.not_json", "csaf provider-metadata", err)
	}
	base, err := url.Parse(metaURL)
	if err != nil {
		return err
	}
	type doc struct {
		u string
		t time.Time
	}
	var docs []doc
	for _, d := range meta.Distributions {
		if d.DirectoryURL != "" {
			dir, err := base.Parse(strings.TrimRight(d.DirectoryURL, "/") + "/")
			if err != nil {
				return err
			}
			cu, _ := dir.Parse("changes.csv")
			resp, err := w.get(ctx, cu.String(), nil)
			if err != nil {
				return err
			}
			cr := csv.NewReader(bufio.NewReader(io.LimitReader(resp.Body, 64<<20)))
			cr.FieldsPerRecord = -1
			for {
				rec, err := cr.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					resp.Body.Close()
					return feedErr("vuln.feed.bad_row", "changes.csv", err)
				}
				if len(rec) < 2 {
					continue
				}
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
				if err != nil {
					continue
				}
				du, err := dir.Parse(strings.TrimSpace(rec[0]))
				if err != nil {
					continue
				}
				docs = append(docs, doc{du.String(), t})
			}
			resp.Body.Close()
		}
		if d.ROLIE != nil {
			for _, f := range d.ROLIE.Feeds {
				fu, err := base.Parse(f.URL)
				if err != nil {
					return err
				}
				resp, err := w.get(ctx, fu.String(), nil)
				if err != nil {
					return err
				}
				var feed struct {
					Feed struct {
						Entry []struct {
							Updated time.Time `json:"updated"`
							Content struct {
								Src string `json:"src"`
							} `json:"content"`
						} `json:"entry"`
					} `json:"feed"`
				}
				err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&feed)
				resp.Body.Close()
				if err != nil {
					return feedErr("vuln.feed.not_json", "rolie", err)
				}
				for _, e := range feed.Feed.Entry {
					if du, err := fu.Parse(e.Content.Src); err == nil && e.Content.Src != "" {
						docs = append(docs, doc{du.String(), e.Updated})
					}
				}
			}
		}
	}
	latest := since
	var firstErr error
	for _, d := range docs {
		if !since.IsZero() && !d.t.After(since) {
			continue
		}
		if err := w.fetchImport(ctx, "csaf", d.u, nil, fn); err != nil && firstErr == nil {
			firstErr = err
		}
		if d.t.After(latest) {
			latest = d.t
		}
	}
	if firstErr == nil && latest.After(since) {
		c := latest.Format(time.RFC3339Nano)
		return w.setSyncState(ctx, name, &c, true, "")
	}
	return firstErr
}

// myjvnStatus reads the paging attributes of a MyJVN API answer
// (<status:Status … retCd totalRes totalResRet firstRes errMsg>).
var myjvnStatus = regexp.MustCompile(`<status:Status\b[^>]*>`)
var myjvnAttr = regexp.MustCompile(`\b(retCd|totalRes|totalResRet|firstRes|errMsg)="([^"]*)"`)

// syncJVN fetches a JVN address: a plain feed file once, or a MyJVN API
// method page by page (startItem), each page imported on its own.
func (w *Watch) syncJVN(ctx context.Context, u string, fn func(ImportResult, error)) error {
	start := 1
	for page := 0; page < 1000; page++ {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		myjvn := strings.Contains(pu.RawQuery, "method=")
		if myjvn && start > 1 {
			q := pu.Query()
			q.Set("startItem", strconv.Itoa(start))
			pu.RawQuery = q.Encode()
		}
		body, err := w.getBody(ctx, pu.String(), nil, feed.MaxXMLBytes)
		if err != nil {
			return err
		}
		name := "jvn"
		if base := pu.Path[strings.LastIndex(pu.Path, "/")+1:]; base != "" {
			name = base
		}
		if myjvn {
			name = fmt.Sprintf("myjvn-%d", start)
		}
		attrs := map[string]string{}
		if m := myjvnStatus.Find(body); m != nil {
			for _, a := range myjvnAttr.FindAllSubmatch(m, -1) {
				attrs[string(a[1])] = string(a[2])
			}
		}
		if rc := attrs["retCd"]; rc != "" && rc != "0" {
			return fmt.Errorf("MyJVN %s: retCd %s: %s", pu.Redacted(), rc, attrs["errMsg"])
		}
		total, _ := strconv.Atoi(attrs["totalRes"])
		got, _ := strconv.Atoi(attrs["totalResRet"])
		first, _ := strconv.Atoi(attrs["firstRes"])
		if myjvn && total == 0 && attrs["totalRes"] != "" {
			return nil
		}
		res, err := w.Import(ctx, name, bytes.NewReader(body))
		fn(res, err)
		if err != nil {
			return err
		}
		if !myjvn || got <= 0 || first <= 0 || first+got-1 >= total {
			return nil
		}
		start = first + got
	}
	return nil
}
