package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// Version is set at build time with -ldflags "-X .../internal/app.Version=v1.2.3".
var Version = "dev"

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode returns the process exit status for an error returned by Run:
// 2 for usage errors, the command's own status where it sets one, else 1.
func ExitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `medisac — cybersecurity platform for medical institutions / 医療機関のためのサイバーセキュリティ基盤

Usage:
  medisac serve [--addr 127.0.0.1:8080]    start the server
  medisac demo                             start with demo organisations and users (SQLite in ./medisac-data)
  medisac migrate                          apply database migrations
  medisac org add --name NAME --kind hospital|clinic|pharmacy|vendor|device_maker|isac
  medisac user add --org ID --email E --role admin|staff|auditor [--password-file F]
  medisac token add --email E [--name N] [--write] [--days 90]
  medisac audit verify                     check the audit log's hash chain and signatures
  medisac inventory import --org ID [--dry-run] FILE   import assets (.csv, .xlsx, nmap .xml)
  medisac inventory export --org ID --format xlsx|csv|json --out FILE
  medisac vuln import|sync|match|findings vulnerability feeds and findings (medisac vuln for details)
  medisac assess editions|load|export      checklists: list editions, load an edition file, export a sheet (pdf|xlsx)
  medisac share import --org ID FILE       import a STIX 2.1 bundle or MISP event
  medisac share export --org ID --format stix|misp --out FILE
  medisac backup --out FILE                consistent copy of the SQLite database
  medisac config                           print the configuration (secrets redacted)
  medisac version

Database: MEDISAC_DATABASE_URL (postgres://… or a SQLite file path);
default a SQLite file under MEDISAC_DATA_DIR (default ./medisac-data).
`

// Run runs one medisac command with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, false)
	case "demo":
		return cmdServe(ctx, rest, stdout, stderr, true)
	case "config":
		cfg, err := loadConfig(rest, nil)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, cfg.Redacted())
		return nil
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "medisac", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if run, ok := commands[cmd]; ok {
		return run(ctx, rest, stdout)
	}
	fmt.Fprint(stderr, usage)
	return usageError("unknown command %q", cmd)
}

// commands are the sub-commands that take their arguments and write to
// standard output.
var commands = map[string]func(ctx context.Context, args []string, stdout io.Writer) error{
	"migrate":   cmdMigrate,
	"org":       cmdOrg,
	"user":      cmdUser,
	"token":     cmdToken,
	"assess":    cmdAssess,
	"inventory": cmdInventory,
	"audit":     cmdAudit,
	"share":     cmdShare,
	"vuln":      cmdVuln,
	"backup":    cmdBackup,
}

func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

// loadConfig builds the configuration from defaults, environment and the
// flags of a sub-command (bind may add the command's own flags).
func loadConfig(args []string, bind func(fs *flag.FlagSet)) (*Config, error) {
	cfg := DefaultConfig()
	if err := cfg.loadEnv(os.Getenv); err != nil {
		return nil, usageError("%v", err)
	}
	fs := flag.NewFlagSet("medisac", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.bindFlags(fs)
	if bind != nil {
		bind(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usageError("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageError("%v", err)
	}
	return &cfg, nil
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg *Config) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return d, nil
}

func openAudit(cfg *Config, d *db.DB, now func() time.Time) (*audit.Log, error) {
	signer, err := audit.LoadOrCreateKey(cfg.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", cfg.AuditKey, err)
	}
	cat, err := catalog()
	if err != nil {
		return nil, err
	}
	return audit.New(d, signer, cat, now), nil
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := loadConfig(args, nil)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer d.Close()
	done, err := d.Migrate(ctx)
	for _, n := range done {
		fmt.Fprintln(stdout, "applied", n)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
	}
	return nil
}

func cmdAudit(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError("usage: medisac audit verify")
	}
	cfg, err := loadConfig(args[1:], nil)
	if err != nil {
		return err
	}
	return withAudit(ctx, cfg, openAsIs, func(_ *db.DB, log *audit.Log) error {
		rep, err := log.Verify(ctx)
		if err != nil {
			return err
		}
		cat, err := catalog()
		if err != nil {
			return err
		}
		if !rep.OK {
			fmt.Fprintf(stdout, "監査ログの改ざんを検出しました / audit log tampering detected: entry %d\n", rep.BadSeq)
			fmt.Fprintln(stdout, "  "+rep.Message(cat, "ja"))
			fmt.Fprintln(stdout, "  "+rep.Message(cat, "en"))
			return &exitError{code: 3, err: fmt.Errorf("audit log verification failed at entry %d", rep.BadSeq)}
		}
		fmt.Fprintln(stdout, rep.Message(cat, "ja"))
		fmt.Fprintln(stdout, rep.Message(cat, "en"))
		if _, err := log.Checkpoint(ctx); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	})
}

func cmdBackup(ctx context.Context, args []string, stdout io.Writer) error {
	var out string
	cfg, err := loadConfig(args, func(fs *flag.FlagSet) { fs.StringVar(&out, "out", "", "file to write the copy to") })
	if err != nil {
		return err
	}
	if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		fmt.Fprintln(stdout, "PostgreSQL のバックアップには pg_dump を使ってください / For PostgreSQL use pg_dump:")
		fmt.Fprintln(stdout, "  pg_dump --format=custom --file=medisac.dump \"$MEDISAC_DATABASE_URL\"")
		fmt.Fprintln(stdout, "Keep the audit key file ("+cfg.AuditKey+") with the backup.")
		return nil
	}
	if out == "" {
		return usageError("usage: medisac backup --out FILE")
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s already exists; choose a new file name", out)
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(ctx, out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "backup written to", out)
	return nil
}
