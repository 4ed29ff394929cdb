package app

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

const shareUsage = `usage:
  medisac share import --org ID FILE                              STIX 2.1 bundle or MISP event JSON
  medisac share export --org ID --format stix|misp [--since YYYY-MM-DD] --out FILE`

// splitFile takes the one positional FILE argument out of args, before or
// after the flags.
func splitFile(args []string) (string, []string) {
	n := len(args)
	if n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || !strings.HasPrefix(args[n-2], "-") || strings.Contains(args[n-2], "=")) {
		return args[n-1], args[:n-1]
	}
	if n > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// shareViewer acts for an organisation from the command line (no person:
// TLP:RED posts, addressed to people, are not exported).
func shareViewer(ctx context.Context, d *db.DB, orgID string) (share.Viewer, error) {
	var kind string
	if err := d.QueryRow(ctx, `SELECT kind FROM organizations WHERE id = ?`, orgID).Scan(&kind); err != nil {
		return share.Viewer{}, usageError("no organisation %q", orgID)
	}
	return share.Viewer{OrgID: orgID, Operator: kind == "isac", Admin: true, Write: true}, nil
}

func cmdShare(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "import" && args[0] != "export") {
		return usageError("%s", shareUsage)
	}
	sub := args[0]
	var org, format, since, out, file string
	if sub == "import" {
		file, args = splitFile(args[1:])
	} else {
		args = args[1:]
	}
	cfg, err := loadConfig(args, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "organisation id")
		if sub == "export" {
			fs.StringVar(&format, "format", "stix", "stix or misp")
			fs.StringVar(&since, "since", "", "only posts created on or after this date (YYYY-MM-DD)")
			fs.StringVar(&out, "out", "", "output file")
		}
	})
	if err != nil {
		return err
	}
	if org == "" || (sub == "import" && file == "") || (sub == "export" && out == "") {
		return usageError("%s", shareUsage)
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		v, err := shareViewer(ctx, d, org)
		if err != nil {
			return err
		}
		if sub == "import" {
			return shareImport(ctx, d, log, v, file, stdout)
		}
		var from time.Time
		if since != "" {
			if from, err = time.ParseInLocation("2006-01-02", since, time.UTC); err != nil {
				return usageError("--since: %v", err)
			}
		}
		var b []byte
		switch format {
		case "stix":
			b, err = share.ExportSTIX(ctx, d, v, from)
		case "misp":
			b, err = share.ExportMISP(ctx, d, v, from)
		default:
			return usageError("--format must be stix or misp")
		}
		if err != nil {
			return cliError(err)
		}
		if err := os.WriteFile(out, b, 0o600); err != nil {
			return err
		}
		if _, err := log.Append(ctx, d, cliEntry("share.export", "organization", org, org, map[string]any{"format": format, "since": since, "bytes": len(b)})); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d bytes (%s)\n", out, len(b), format)
		return nil
	})
}

func shareImport(ctx context.Context, d *db.DB, log *audit.Log, v share.Viewer, file string, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	format := "stix"
	if bytes.Contains(head[:n], []byte(`"Event"`)) || !bytes.Contains(head[:n], []byte(`"objects"`)) && n < len(head) {
		format = "misp"
	}
	// The import writes in short transactions; its audit entry lands in
	// the last one, with the posts.
	opts := share.ImportOptions{Publish: func(ctx context.Context, tx *db.Tx, res *share.ImportResult) error {
		_, err := log.Append(ctx, tx, cliEntry("share.import", "organization", v.OrgID, v.OrgID,
			map[string]any{"file": file, "format": format, "posts": res.PostCount(), "failures": res.FailureCount()}))
		return err
	}}
	var res *share.ImportResult
	skipped := 0
	if format == "misp" {
		b, err := io.ReadAll(io.LimitReader(f, share.MaxImport+1))
		if err != nil {
			return err
		}
		res, skipped, err = share.ImportMISP(ctx, d, v, b, opts, time.Now())
		if err != nil {
			return cliError(err)
		}
	} else {
		// A STIX bundle is read as a stream, whatever its size.
		if res, err = share.ImportSTIX(ctx, d, v, bufio.NewReaderSize(f, 1<<20), opts, time.Now()); err != nil {
			return cliError(err)
		}
	}
	for _, p := range res.Posts {
		fmt.Fprintf(stdout, "post %s  %s  %s  (%d indicators)\n", p.ID, p.TLP.Label(), p.Title, p.Indicators)
	}
	if res.PostsOmitted > 0 {
		fmt.Fprintf(stdout, "(%d more posts not listed)\n", res.PostsOmitted)
	}
	fmt.Fprintf(stdout, "%s: %d posts, %d objects stored, %d already present, %d skipped, %d failed\n",
		format, res.PostCount(), res.Objects, res.Existing, skipped, res.FailureCount())
	for _, f := range res.Failures {
		fmt.Fprintf(stdout, "  failed %s: %s\n", f.ID, f.Message)
	}
	if res.FailuresOmitted > 0 {
		fmt.Fprintf(stdout, "  (%d more failures not listed)\n", res.FailuresOmitted)
	}
	if res.BusyWaits > 0 {
		fmt.Fprintf(stdout, "waited %d times (%s in all) for the database, which another process (the server?) was writing\n",
			res.BusyWaits, res.BusyWaited.Round(time.Millisecond))
	}
	return nil
}
