package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
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

// sharePrincipal acts for an organisation from the command line (no
// person: TLP:RED posts, addressed to people, are not exported).
func sharePrincipal(ctx context.Context, d *db.DB, orgID string) (*auth.Principal, error) {
	var kind string
	if err := d.QueryRow(ctx, `SELECT kind FROM organizations WHERE id = ?`, orgID).Scan(&kind); err != nil {
		return nil, usageError("no organisation %q", orgID)
	}
	p := auth.CommandLine(os.Getenv("USER"), orgID)
	p.OrgKind = auth.OrgKind(kind)
	return p, nil
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
	if sub == "import" {
		// Beside a running SQLite server, the server imports the file:
		// one process writes the database (see localsock.go).
		if lc := dialNode(ctx, cfg, org); lc != nil {
			return shareImportViaNode(ctx, lc, file, stdout)
		}
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		p, err := sharePrincipal(ctx, d, org)
		if err != nil {
			return err
		}
		hub := &share.Hub{DB: d, Audit: log, Now: time.Now}
		if sub == "import" {
			return shareImport(ctx, hub, p, file, stdout)
		}
		var from time.Time
		if since != "" {
			if from, err = time.ParseInLocation("2006-01-02", since, time.UTC); err != nil {
				return usageError("--since: %v", err)
			}
		}
		if format != share.FormatSTIX && format != share.FormatMISP {
			return usageError("--format must be stix or misp")
		}
		b, err := hub.Export(ctx, p, format, from)
		if err != nil {
			return cliError(err)
		}
		if err := os.WriteFile(out, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d bytes (%s)\n", out, len(b), format)
		return nil
	})
}

func shareImport(ctx context.Context, hub *share.Hub, p *auth.Principal, file string, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// A STIX bundle is read as a stream, whatever its size; the import
	// writes in short transactions and its audit entry lands in the last
	// one, with the posts.
	out, err := hub.Import(ctx, p, share.ImportRequest{File: f, Details: map[string]any{"file": file}})
	if err != nil {
		return cliError(err)
	}
	printShareImport(stdout, out.Format, out.Skipped, out.Result)
	return nil
}

// printShareImport prints the result of a share import.
func printShareImport(stdout io.Writer, format string, skipped int, res *share.ImportResult) {
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
		w := res.BusyWaited.Round(time.Millisecond)
		fmt.Fprintf(stdout, "データベースに別のプロセス（サーバーなど）が書き込み中だったため %d 回待ちました（合計 %s） / waited %d times (%s in all) for the database, which another process (the server?) was writing\n",
			res.BusyWaits, w, res.BusyWaits, w)
	}
}
