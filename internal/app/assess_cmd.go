package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

const assessUsage = `usage:
  medisac assess editions
  medisac assess load --file FILE [--owner ORG_ID] [--replace]
  medisac assess export --org ID --edition ID [--year 2025] --format pdf|xlsx --out FILE`

func cmdAssess(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", assessUsage)
	}
	switch args[0] {
	case "editions":
		return assessEditions(ctx, args[1:], stdout)
	case "load":
		return assessLoad(ctx, args[1:], stdout)
	case "export":
		return assessExport(ctx, args[1:], stdout)
	}
	return usageError("%s", assessUsage)
}

func assessEditions(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := loadConfig(args, nil)
	if err != nil {
		return err
	}
	return withAssess(ctx, cfg, func(d *db.DB, svc *assess.Service) error {
		es, err := svc.Registry.List(ctx, d, "")
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tYEAR\tITEMS\tSOURCE\tTITLE")
		for _, e := range es {
			src := "builtin"
			if !e.Builtin {
				src = "database"
			}
			title := e.Title + " " + e.Version
			if e.HasUnverified() {
				title += " 【要確認】"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", e.ID, e.Kind, e.FiscalYear, len(e.Items()), src, title)
		}
		return tw.Flush()
	})
}

func assessLoad(ctx context.Context, args []string, stdout io.Writer) error {
	var file, owner string
	var replace bool
	cfg, err := loadConfig(args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "edition YAML file")
		fs.StringVar(&owner, "owner", "", "organisation that alone may use it (default: everyone)")
		fs.BoolVar(&replace, "replace", false, "replace a stored edition with the same id")
	})
	if err != nil {
		return err
	}
	if file == "" {
		return usageError("%s", assessUsage)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return withAssess(ctx, cfg, func(d *db.DB, svc *assess.Service) error {
		e, err := svc.LoadEdition(ctx, assessPrincipal(""), owner, file, data, replace)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintln(stdout, e.ID)
		return nil
	})
}

func assessExport(ctx context.Context, args []string, stdout io.Writer) error {
	var orgID, editionID, format, out string
	var year int
	cfg, err := loadConfig(args, func(fs *flag.FlagSet) {
		fs.StringVar(&orgID, "org", "", "organisation id")
		fs.StringVar(&editionID, "edition", "", "edition id (see medisac assess editions)")
		fs.IntVar(&year, "year", 0, "fiscal year (default: the current one)")
		fs.StringVar(&format, "format", "pdf", "pdf or xlsx")
		fs.StringVar(&out, "out", "", "output file")
	})
	if err != nil {
		return err
	}
	if orgID == "" || editionID == "" || out == "" || (format != "pdf" && format != "xlsx") {
		return usageError("%s", assessUsage)
	}
	if year == 0 {
		year = i18n.FiscalYear(time.Now())
	}
	return withAssess(ctx, cfg, func(d *db.DB, svc *assess.Service) error {
		if _, err := svc.Registry.Get(ctx, d, orgID, editionID); err != nil {
			return cliError(err)
		}
		var s *assess.Sheet
		list, err := assess.ListSheets(ctx, d, orgID, assess.SheetFilter{FiscalYear: year})
		if err != nil {
			return err
		}
		for _, x := range list {
			if x.EditionID == editionID {
				s = x
			}
		}
		if s == nil {
			return &exitError{code: 1, err: fmt.Errorf("no sheet of %s for fiscal year %d in organisation %s / その年度のチェックリストはまだありません", editionID, year, orgID)}
		}
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		_, _, err = svc.Export(ctx, assessPrincipal(orgID), orgID, s.ID, format, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
			return cliError(err)
		}
		fmt.Fprintln(stdout, out)
		return nil
	})
}

// withAssess opens the configured database with the checklists' service
// for a command.
func withAssess(ctx context.Context, cfg *Config, fn func(d *db.DB, svc *assess.Service) error) error {
	reg, err := assess.NewRegistry()
	if err != nil {
		return err
	}
	cat, err := catalog()
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		return fn(d, assess.NewService(d, log, reg, cat, nil, cfg.BaseURL, time.Now))
	})
}

// assessPrincipal is whoever runs a checklist command, acting on orgID.
func assessPrincipal(orgID string) *auth.Principal {
	return auth.CommandLine(os.Getenv("USER"), orgID)
}
