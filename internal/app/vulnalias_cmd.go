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
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/vuln"
)

const vulnAliasUsage = `usage:
  medisac vuln aliases export [FILE]               write the alias table in force as JSON (standard output without FILE)
  medisac vuln aliases import FILE [--note TEXT]   check FILE and make it the alias table in force; the server re-matches every asset`

// cmdVulnAliases exports and imports the alias table (vendor spellings and
// product names to CPE identities).
func cmdVulnAliases(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", vulnAliasUsage)
	}
	sub, rest := args[0], args[1:]
	var files []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		files, rest = append(files, rest[0]), rest[1:]
	}
	var note string
	cfg, err := loadConfig(rest, func(fs *flag.FlagSet) {
		if sub == "import" {
			fs.StringVar(&note, "note", "", "why the table changes")
		}
	})
	if err != nil {
		return err
	}
	switch {
	case sub == "export" && len(files) <= 1:
	case sub == "import" && len(files) == 1:
	default:
		return usageError("%s", vulnAliasUsage)
	}
	var body []byte
	if sub == "import" {
		if body, err = os.ReadFile(files[0]); err != nil {
			return err
		}
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		if sub == "export" {
			a, err := vuln.CurrentAliases(ctx, d, nil)
			if err != nil {
				return cliError(err)
			}
			if len(files) == 0 {
				_, err = stdout.Write(a.JSON())
				return err
			}
			return os.WriteFile(files[0], a.JSON(), 0o644)
		}
		w := newWatch(cfg, d, log, jobs.New(d, time.Now, nil))
		ch, err := w.ChangeAliases(ctx, vulnCLIPrincipal(), vuln.AliasSave{Body: body, Action: vuln.AliasImport, Note: note}, nil,
			map[string]any{"file": files[0]})
		if err != nil {
			return cliError(err)
		}
		if !ch.Changed {
			fmt.Fprintf(stdout, "alias table %s is already in force; nothing changed\n", ch.New)
			return nil
		}
		fmt.Fprintf(stdout, "alias table %s → %s (version %d); the server re-matches every asset (or run medisac vuln match)\n", ch.Old, ch.New, ch.Seq)
		return nil
	})
}
