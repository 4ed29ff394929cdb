package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
)

const inventoryUsage = `usage:
  medisac inventory import --org ID [--dry-run] FILE     (.csv, .xlsx or nmap .xml)
  medisac inventory export --org ID --format xlsx|csv|json --out FILE`

func cmdInventory(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", inventoryUsage)
	}
	switch args[0] {
	case "import":
		return cmdInventoryImport(ctx, args[1:], stdout)
	case "export":
		return cmdInventoryExport(ctx, args[1:], stdout)
	}
	return usageError("%s", inventoryUsage)
}

// splitFileArg separates the one file argument from the flags, wherever it
// stands. Every flag of the command takes a value except --dry-run.
func splitFileArg(args []string) (flags []string, file string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && name != "dry-run" && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		case file == "":
			file = a
		default:
			return nil, "", usageError("more than one file given: %q and %q", file, a)
		}
	}
	if file == "" {
		return nil, "", usageError("%s", inventoryUsage)
	}
	return flags, file, nil
}

// checkOrg fails with a plain sentence when orgID names no organisation.
func checkOrg(ctx context.Context, q db.Querier, orgID string) error {
	operator := &auth.Principal{OrgID: orgID, OrgKind: auth.KindISAC}
	if _, err := auth.GetOrg(ctx, q, operator, orgID); err != nil {
		return fmt.Errorf("組織 %s が見つかりません / organisation %s not found", orgID, orgID)
	}
	return nil
}

func cmdInventoryImport(ctx context.Context, args []string, stdout io.Writer) error {
	flags, file, err := splitFileArg(args)
	if err != nil {
		return err
	}
	var orgID string
	var dryRun bool
	cfg, err := loadConfig(flags, func(fs *flag.FlagSet) {
		fs.StringVar(&orgID, "org", "", "organisation id")
		fs.BoolVar(&dryRun, "dry-run", false, "print the preview and change nothing")
	})
	if err != nil {
		return err
	}
	if orgID == "" {
		return usageError("--org is required\n%s", inventoryUsage)
	}
	data, err := readImportFile(file)
	if err != nil {
		return err
	}
	cat, err := catalog()
	if err != nil {
		return err
	}
	name := filepath.Base(file)
	// Beside a running SQLite server, the server imports the file (one
	// process writes the database, see localsock.go); a file with errors
	// is then previewed here to print them.
	if !dryRun && inventory.DetectFormat(name, data) != "nmap" {
		if lc := dialNode(ctx, cfg, orgID); lc != nil {
			handled, err := registerImportViaNode(ctx, lc, cat, name, data, stdout)
			if handled {
				return err
			}
			dryRun = true
		}
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		if err := checkOrg(ctx, d, orgID); err != nil {
			return err
		}
		if inventory.DetectFormat(name, data) == "nmap" {
			return importNmap(ctx, d, log, cat, orgID, data, dryRun, stdout)
		}
		if dryRun {
			p, err := inventory.PreviewImport(ctx, d, cat, orgID, name, data)
			if err != nil {
				return err
			}
			printPreview(stdout, cat, p)
			if !p.OK() {
				return importFailed(cat, len(p.Errors))
			}
			fmt.Fprintln(stdout, "確認のみ: 何も変更していません / dry run: nothing was changed")
			return nil
		}
		p, err := inventory.NewService(d, log, cat, time.Now).ApplyImport(ctx, cliPrincipal(orgID), orgID, name, data)
		if p != nil {
			printPreview(stdout, cat, p)
		}
		if err != nil {
			if p != nil && !p.OK() {
				return importFailed(cat, len(p.Errors))
			}
			return cliError(err)
		}
		fmt.Fprintln(stdout, "取り込みました / imported")
		return nil
	})
}

func readImportFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("ファイルを開けません / cannot open %s: %w", file, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, inventory.MaxImportSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > inventory.MaxImportSize {
		cat, _ := catalog()
		return nil, &exitError{code: 1, err: errors.New(bilingual(cat, "inventory.import.file_too_large", inventory.MaxImportSize>>20))}
	}
	return data, nil
}

func bilingual(cat *i18n.Catalog, key string, args ...any) string {
	if cat == nil {
		return key
	}
	return cat.T("ja", key, args...) + " / " + cat.T("en", key, args...)
}

func importFailed(cat *i18n.Catalog, n int) error {
	return &exitError{code: 1, err: errors.New(bilingual(cat, "inventory.import.has_errors", n))}
}

// printPreview writes the counts per sheet and every error with its
// sheet, row and column, in Japanese and English.
func printPreview(w io.Writer, cat *i18n.Catalog, p *inventory.Preview) {
	fmt.Fprintf(w, "形式 / format: %s", p.Format)
	if p.Encoding != "" {
		fmt.Fprintf(w, " (%s)", p.Encoding)
	}
	fmt.Fprintln(w)
	sheets := make([]string, 0, len(p.Counts))
	for s := range p.Counts {
		sheets = append(sheets, s)
	}
	sort.Strings(sheets)
	for _, s := range sheets {
		c := p.Counts[s]
		fmt.Fprintf(w, "%s: 新規 new %d, 変更 changed %d, 変更なし unchanged %d, 誤り errors %d\n", s,
			c[inventory.RowNew], c[inventory.RowChanged], c[inventory.RowUnchanged], c[inventory.RowError])
	}
	if len(p.NewSegments) > 0 {
		fmt.Fprintf(w, "新しいセグメント / new segments: %s\n", strings.Join(p.NewSegments, ", "))
	}
	for _, e := range p.Errors {
		fmt.Fprintln(w, cellErrorLine(cat, e))
	}
}

func cellErrorLine(cat *i18n.Catalog, e inventory.CellError) string {
	var ja, en []string
	if e.Sheet != "" {
		ja, en = append(ja, "シート「"+e.Sheet+"」"), append(en, "sheet "+e.Sheet)
	}
	if e.Row > 0 {
		ja, en = append(ja, fmt.Sprintf("%d 行目", e.Row)), append(en, fmt.Sprintf("row %d", e.Row))
	}
	if e.Column != "" {
		ja, en = append(ja, "列「"+e.Column+"」"), append(en, "column "+e.Column)
	}
	where := strings.Join(ja, " ")
	if where != "" {
		where += " / " + strings.Join(en, ", ") + ": "
	}
	return "誤り / error: " + where + bilingual(cat, e.Key, e.Args...)
}

func importNmap(ctx context.Context, d *db.DB, log *audit.Log, cat *i18n.Catalog, orgID string, data []byte, dryRun bool, stdout io.Writer) error {
	scan, err := inventory.ParseNmap(bytes.NewReader(data), inventory.MaxNmapSize)
	if err != nil {
		ae := inventory.NmapError(err)
		return &exitError{code: 1, err: errors.New(bilingual(cat, ae.Key, ae.Args...))}
	}
	svc := inventory.NewService(d, log, cat, time.Now)
	var props []inventory.NmapProposal
	if dryRun {
		props, err = svc.PreviewNmap(ctx, cliPrincipal(orgID), orgID, scan)
	} else {
		props, _, err = svc.ApplyNmap(ctx, cliPrincipal(orgID), orgID, scan, nil)
	}
	if err != nil {
		return cliError(err)
	}
	counts := map[inventory.RowStatus]int{}
	for _, p := range props {
		counts[p.Status]++
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", cat.T("ja", "inventory.import.status."+string(p.Status)), p.AssetName, p.Host.IP())
	}
	fmt.Fprintf(stdout, "nmap: 新規 new %d, 変更 changed %d, 変更なし unchanged %d\n", counts[inventory.RowNew], counts[inventory.RowChanged], counts[inventory.RowUnchanged])
	if dryRun {
		fmt.Fprintln(stdout, "確認のみ: 何も変更していません / dry run: nothing was changed")
	} else {
		fmt.Fprintln(stdout, "取り込みました / imported")
	}
	return nil
}

func cmdInventoryExport(ctx context.Context, args []string, stdout io.Writer) error {
	var orgID, format, out string
	cfg, err := loadConfig(args, func(fs *flag.FlagSet) {
		fs.StringVar(&orgID, "org", "", "organisation id")
		fs.StringVar(&format, "format", "xlsx", "xlsx, csv or json")
		fs.StringVar(&out, "out", "", "file to write")
	})
	if err != nil {
		return err
	}
	if orgID == "" || out == "" {
		return usageError("--org and --out are required\n%s", inventoryUsage)
	}
	switch format {
	case inventory.FormatXLSX, inventory.FormatCSV, inventory.FormatJSON:
	default:
		return usageError("--format must be xlsx, csv or json, not %q", format)
	}
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		if err := checkOrg(ctx, d, orgID); err != nil {
			return err
		}
		cat, err := catalog()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := inventory.NewService(d, log, cat, time.Now).Export(ctx, cliPrincipal(orgID), orgID, format, &buf); err != nil {
			if apperr.From(err).Code != apperr.Internal {
				return cliError(err)
			}
			return err
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s に書き出しました / written to %s (%d bytes)\n", out, out, buf.Len())
		return nil
	})
}
