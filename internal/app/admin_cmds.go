package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// catalog is the process's one message catalog: the node's services, its
// pages and API, and the commands share it (it is read only).
var catalog = sync.OnceValues(i18n.Load)

// cliEntry is an audit entry for a change made from the command line.
func cliEntry(action, objType, objID, orgID string, details map[string]any) audit.Entry {
	user := os.Getenv("USER")
	if user == "" {
		user = "unknown"
	}
	return audit.Entry{Actor: "cli:" + user, OrgID: orgID, Action: action, ObjectType: objType, ObjectID: objID,
		Outcome: audit.Success, IP: "local", UserAgent: "medisac-cli", Details: details}
}

// cliPrincipal is the person running a command, acting on orgID.
func cliPrincipal(orgID string) *auth.Principal { return auth.CommandLine(os.Getenv("USER"), orgID) }

// withOrgs opens the configured database and audit log and gives the
// organisations' service on them (mailing nobody) to fn.
func withOrgs(ctx context.Context, cfg *Config, fn func(s *auth.Orgs) error) error {
	return withStore(ctx, cfg, func(d *db.DB, log *audit.Log) error {
		return fn(&auth.Orgs{DB: d, Audit: log})
	})
}

// withStore opens the configured database (migrated) and audit log for a
// command.
func withStore(ctx context.Context, cfg *Config, fn func(d *db.DB, log *audit.Log) error) error {
	return withAudit(ctx, cfg, openDB, fn)
}

// withAudit opens the configured database with open, and its audit log,
// for fn, and closes the database after.
func withAudit(ctx context.Context, cfg *Config, open func(context.Context, *Config) (*db.DB, error), fn func(d *db.DB, log *audit.Log) error) error {
	d, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	log, err := openAudit(cfg, d, time.Now)
	if err != nil {
		return err
	}
	return fn(d, log)
}

// openAsIs opens the configured database without migrating it.
func openAsIs(ctx context.Context, cfg *Config) (*db.DB, error) { return db.Open(ctx, cfg.DatabaseURL) }

func cmdOrg(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError("usage: medisac org add --name NAME --kind hospital|clinic|pharmacy|vendor|device_maker|isac")
	}
	var in auth.OrgInput
	var kind string
	var beds int
	cfg, err := loadConfig(args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&in.Name, "name", "", "organisation name")
		fs.StringVar(&kind, "kind", "", "hospital, clinic, pharmacy, vendor, device_maker or isac")
		fs.StringVar(&in.NameKana, "kana", "", "name in katakana")
		fs.StringVar(&in.Prefecture, "prefecture", "", "prefecture, e.g. 東京都")
		fs.StringVar(&in.MedicalCode, "medical-code", "", "医療機関コード (7 or 10 digits)")
		fs.IntVar(&beds, "beds", -1, "bed count")
	})
	if err != nil {
		return err
	}
	in.Kind = auth.OrgKind(kind)
	if beds >= 0 {
		in.Beds = &beds
	}
	return withOrgs(ctx, cfg, func(s *auth.Orgs) error {
		o, _, err := s.CreateOrg(ctx, cliPrincipal(""), in, auth.InviteInput{})
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintln(stdout, o.ID)
		return nil
	})
}

// cliError turns an application error into a bilingual sentence.
func cliError(err error) error {
	cat, cerr := catalog()
	if cerr != nil {
		return err
	}
	ae := asAppErr(err)
	if ae == nil {
		return err
	}
	msg := cat.T("ja", ae.Key, ae.Args...) + " / " + cat.T("en", ae.Key, ae.Args...)
	if ae.Field != "" {
		msg = "--" + strings.ReplaceAll(ae.Field, "_", "-") + ": " + msg
	}
	return &exitError{code: 1, err: fmt.Errorf("%s", msg)}
}

func cmdUser(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError("usage: medisac user add --org ID --email E --role admin|staff|auditor [--password-file F]")
	}
	var orgID, email, role, pwFile, name, lang string
	cfg, err := loadConfig(args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&orgID, "org", "", "organisation id")
		fs.StringVar(&email, "email", "", "e-mail address")
		fs.StringVar(&role, "role", "staff", "admin, staff or auditor")
		fs.StringVar(&pwFile, "password-file", "", "file holding the password (without it, a link to set one is printed)")
		fs.StringVar(&name, "name", "", "display name")
		fs.StringVar(&lang, "lang", "ja", "language: ja or en")
	})
	if err != nil {
		return err
	}
	if orgID == "" || email == "" {
		return usageError("--org and --email are required")
	}
	var password string
	if pwFile != "" {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return withOrgs(ctx, cfg, func(s *auth.Orgs) error {
		u, raw, err := s.AddUser(ctx, cliPrincipal(orgID), orgID, auth.NewUser{Email: email, DisplayName: name, Lang: lang, Password: password}, auth.Role(role))
		if err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("organisation %s not found", orgID)
			}
			return cliError(err)
		}
		fmt.Fprintln(stdout, u.ID)
		if raw != "" {
			fmt.Fprintf(stdout, "パスワード設定用リンク / link to set the password (valid 7 days): %s/reset/%s\n", cfg.BaseURL, raw)
		}
		return nil
	})
}

func cmdToken(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError("usage: medisac token add --email E [--name N] [--write] [--days 90]")
	}
	var email, name, orgID string
	var write bool
	var days int
	cfg, err := loadConfig(args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "owner's e-mail address")
		fs.StringVar(&name, "name", "cli", "token name")
		fs.BoolVar(&write, "write", false, "allow changes (default read-only)")
		fs.IntVar(&days, "days", 90, "days until the token expires (0 = never)")
		fs.StringVar(&orgID, "org", "", "organisation id (default: the owner's first organisation)")
	})
	if err != nil {
		return err
	}
	if email == "" {
		return usageError("--email is required")
	}
	return withOrgs(ctx, cfg, func(s *auth.Orgs) error {
		u, err := auth.GetUserByEmail(ctx, s.DB, email)
		if err != nil {
			return fmt.Errorf("no user with e-mail %s", email)
		}
		ms, err := auth.MembershipsOf(ctx, s.DB, u.ID)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return fmt.Errorf("%s is not a member of any organisation", email)
		}
		org := ms[0].OrgID
		if orgID != "" {
			org = orgID
		}
		var exp *time.Time
		if days > 0 {
			t := time.Now().Add(time.Duration(days) * 24 * time.Hour)
			exp = &t
		}
		raw, _, err := s.CreateToken(ctx, cliPrincipal(org), u.ID, org, auth.TokenInput{Name: name, Write: write, Expires: exp})
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintln(stdout, raw)
		return nil
	})
}
