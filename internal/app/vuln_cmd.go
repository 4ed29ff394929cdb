package app

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/csvsafe"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/feed"
)

// VulnConfig is where the online vulnerability feeds are; comma-separated
// lists for JVN and CSAF providers.
type VulnConfig struct {
	NVDURL        string        `json:"nvd_url,omitempty"`
	NVDAPIKey     string        `json:"nvd_api_key,omitempty"`
	KEVURL        string        `json:"kev_url,omitempty"`
	EPSSURL       string        `json:"epss_url,omitempty"`
	JVNURLs       string        `json:"jvn_urls,omitempty"`
	CSAFProviders string        `json:"csaf_providers,omitempty"`
	Interval      time.Duration `json:"sync_interval,omitempty"`
}

// Sync returns the watch's sync configuration.
func (c VulnConfig) Sync() vuln.SyncConfig {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return vuln.SyncConfig{NVDURL: c.NVDURL, NVDAPIKey: c.NVDAPIKey, KEVURL: c.KEVURL, EPSSURL: c.EPSSURL,
		JVNURLs: split(c.JVNURLs), CSAFProviders: split(c.CSAFProviders), Interval: c.Interval}
}

const vulnUsage = `usage:
  medisac vuln import FILE|DIR...                         import NVD, KEV, EPSS, JVN, CSAF or Fortinet files (format detected)
  medisac vuln sync                                       run the configured online synchronisation once (MEDISAC_VULN_*)
  medisac vuln match                                      re-match every asset against every vulnerability
  medisac vuln findings --org ID [--format json|csv] [--all]`

// newWatch builds the vulnerability watch on d. Jobs it enqueues (alerts)
// are run by the server's workers.
func newWatch(cfg *Config, d *db.DB, log *audit.Log, q *jobs.Queue) *vuln.Watch {
	return &vuln.Watch{DB: d, Queue: q, Audit: log, Catalog: mustCatalog(), BaseURL: cfg.BaseURL, Sync: cfg.Vuln.Sync(),
		TempDir: filepath.Join(cfg.DataDir, "temp")}
}

// vulnCLIPrincipal is the command line acting on the vulnerability watch
// (feed imports and the alias table belong to no organisation).
func vulnCLIPrincipal() *auth.Principal { return auth.CommandLine(os.Getenv("USER"), "") }

func cmdVuln(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", vulnUsage)
	}
	sub := args[0]
	if sub == "aliases" {
		return cmdVulnAliases(ctx, args[1:], stdout)
	}
	var org, format string
	var all bool
	var files []string
	rest := args[1:]
	if sub == "import" {
		i := 0
		for i < len(rest) && !strings.HasPrefix(rest[i], "-") {
			i++
		}
		files, rest = rest[:i], rest[i:]
	}
	cfg, err := loadConfig(rest, func(fs *flag.FlagSet) {
		if sub == "findings" {
			fs.StringVar(&org, "org", "", "organisation id")
			fs.StringVar(&format, "format", "json", "json or csv")
			fs.BoolVar(&all, "all", false, "include closed and settled findings")
		}
	})
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		w := newWatch(cfg, d, log, nil)
		switch sub {
		case "import":
			if len(files) == 0 {
				return usageError("%s", vulnUsage)
			}
			return vulnImport(ctx, w, files, stdout)
		case "sync":
			if !w.Sync.Enabled() {
				return usageError("no feed is configured: set MEDISAC_VULN_NVD_URL, MEDISAC_VULN_KEV_URL, MEDISAC_VULN_EPSS_URL, MEDISAC_VULN_JVN_URLS or MEDISAC_VULN_CSAF_PROVIDERS")
			}
			rep, err := w.SyncOnce(ctx, func(res vuln.ImportResult, err error) { printImport(w, stdout, res, err) })
			if err != nil {
				return err
			}
			if len(rep.Errors) > 0 {
				return fmt.Errorf("sync: %s", strings.Join(rep.Errors, "; "))
			}
			return nil
		case "match":
			st, err := w.MatchAll(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "matched %d vulnerabilities against %d assets: %d findings (%d new, %d changed, %d closed)\n",
				st.Vulns, st.Assets, st.Findings, st.New, st.Changed, st.Closed)
			return nil
		case "findings":
			if org == "" || (format != "json" && format != "csv") {
				return usageError("%s", vulnUsage)
			}
			return streamFindings(ctx, d, org, vuln.FindingFilter{All: all}, format, stdout)
		}
		return usageError("%s", vulnUsage)
	})
}

// vulnImport imports the files. A file that fails validation changes
// nothing; an import whose writing stops part-way keeps what it committed,
// is recorded as interrupted and is completed by importing the file again.
// Imports interrupted earlier (a process that was killed) are first
// marked and matched, and listed until they are completed.
func vulnImport(ctx context.Context, w *vuln.Watch, paths []string, stdout io.Writer) error {
	if _, err := w.RecoverImports(ctx); err != nil {
		return err
	}
	if err := printInterrupted(ctx, w, stdout); err != nil {
		return err
	}
	p := vulnCLIPrincipal()
	if err := vuln.AuthorizeImport(p); err != nil {
		return err
	}
	rejected, stopped := 0, 0
	var recErr error
	err := w.ImportPaths(ctx, paths, func(res vuln.ImportResult, err error) {
		switch {
		case err != nil && apperr.From(err).Key == "vuln.import.interrupted":
			stopped++
		case err != nil:
			rejected++
		}
		printImport(w, stdout, res, err)
		if rerr := w.RecordImport(ctx, p, res.Name, res, err); rerr != nil && recErr == nil {
			recErr = rerr
		}
	})
	if err == nil {
		err = recErr
	}
	if err != nil && stopped == 0 {
		return err
	}
	var parts []string
	if rejected > 0 {
		parts = append(parts, fmt.Sprintf("%d file(s) rejected before writing; the data held before is unchanged by them", rejected))
	}
	if stopped > 0 {
		parts = append(parts, fmt.Sprintf("%d import(s) stopped part-way; what they wrote is kept and matched; import the same file(s) again to complete them", stopped))
	}
	if len(parts) > 0 {
		return errors.New(strings.Join(parts, "; "))
	}
	return nil
}

// printInterrupted lists the imports that stopped part-way and are not
// completed yet, with what to do.
func printInterrupted(ctx context.Context, w *vuln.Watch, out io.Writer) error {
	ls, err := vuln.InterruptedImports(ctx, w.DB)
	if err != nil {
		return err
	}
	cat := mustCatalog()
	for _, l := range ls {
		fmt.Fprintf(out, "%s (%s): %s\n", l.Name, l.At.In(i18n.Tokyo).Format("2006-01-02 15:04"), bilingual(cat, "vuln.import.interrupted", l.Name))
	}
	return nil
}

func printImport(w *vuln.Watch, out io.Writer, res vuln.ImportResult, err error) {
	if ae := apperr.From(err); ae != nil && ae.Key == "vuln.import.interrupted" {
		fmt.Fprintf(out, "%s: interrupted: %s (%v)\n", res.Name, bilingual(mustCatalog(), ae.Key, res.Name), errors.Unwrap(err))
		return
	}
	if err != nil {
		msg := err.Error()
		if key, detail, ok := feed.FeedError(err); ok {
			msg = mustCatalog().T(i18n.Default, key, res.Name, detail)
		}
		fmt.Fprintf(out, "%s: rejected: %s\n", res.Name, msg)
		return
	}
	fmt.Fprintf(out, "%s: %s, %d records, %d vulnerabilities changed", res.Name, res.Format, res.Records, res.Changed)
	if res.Withdrawn > 0 {
		fmt.Fprintf(out, ", %d withdrawn", res.Withdrawn)
	}
	fmt.Fprintln(out)
}

// streamFindings writes every finding of the organisation that f selects
// as a JSON array or CSV, a page at a time, so that an organisation with
// any number of findings is exported in full with flat memory.
func streamFindings(ctx context.Context, q db.Querier, org string, f vuln.FindingFilter, format string, out io.Writer) error {
	bw := bufio.NewWriter(out)
	if format == "json" {
		n := 0
		if _, err := bw.WriteString("["); err != nil {
			return err
		}
		err := vuln.EachFinding(ctx, q, org, f, func(fd vuln.Finding) error {
			b, err := json.MarshalIndent(fd, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if n == 0 {
				sep = "\n  "
			}
			n++
			bw.WriteString(sep)
			_, err = bw.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString("]\n")
		return bw.Flush()
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write([]string{"asset_name", "asset_id", "vulnerability", "confidence", "priority", "state", "active", "kev", "cvss", "epss",
		"fixed_versions", "sources", "external_connection", "internet_exposed", "finding_id"}); err != nil {
		return err
	}
	err := vuln.EachFinding(ctx, q, org, f, func(f vuln.Finding) error {
		return cw.Write(csvsafe.Row([]string{f.AssetName, f.AssetID, f.VulnID, f.Confidence, strconv.Itoa(f.Priority), string(f.State), strconv.FormatBool(f.Active),
			strconv.FormatBool(f.KEV), strconv.FormatFloat(f.CVSS, 'f', 1, 64), strconv.FormatFloat(f.EPSS, 'f', 5, 64),
			strings.Join(f.Fixed, " "), strings.Join(f.Sources, " "), strconv.FormatBool(f.External), strconv.FormatBool(f.Exposed), f.ID}))
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
