package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migration is one numbered schema change, rendered for one dialect.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// A migration file is written once for both databases. Where their SQL
// differs it says so in one of two ways:
//
//   - a type or literal that only differs in spelling is a placeholder,
//     replaced from dialectWords (e.g. {timestamp} is TIMESTAMPTZ on
//     PostgreSQL and TIMESTAMP on SQLite);
//   - lines that differ more (triggers, functions) stand in sections: a line
//     "-- postgres:" or "-- sqlite:" starts lines for that database only, and
//     "-- both:" returns to lines for both. The marker lines themselves are
//     not part of the SQL.
var dialectWords = []struct{ word, postgres, sqlite string }{
	{"{timestamp}", "TIMESTAMPTZ", "TIMESTAMP"},
	{"{bigint}", "BIGINT", "INTEGER"},
	{"{double}", "DOUBLE PRECISION", "REAL"},
	{"{bytes}", "BYTEA", "BLOB"},
	{"{serial_key}", "BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"},
	{"{without_rowid}", "", " WITHOUT ROWID"},
	{"{builtin_time}", "'2026-01-01 00:00:00+00'", "'2026-01-01 00:00:00.000000+00:00'"},
}

// renderMigration returns a migration file's SQL for one dialect. It fails
// on a section marker it does not know, a placeholder left unreplaced, or a
// section left open at the end of the file.
func renderMigration(d Dialect, name, text string) (string, error) {
	var b strings.Builder
	section := ""
	for i, line := range strings.SplitAfter(text, "\n") {
		switch marker := strings.TrimSpace(line); marker {
		case "-- postgres:", "-- sqlite:":
			section = strings.TrimSuffix(strings.TrimPrefix(marker, "-- "), ":")
			continue
		case "-- both:":
			section = ""
			continue
		}
		if section != "" && section != string(d) {
			continue
		}
		for _, w := range dialectWords {
			if d == Postgres {
				line = strings.ReplaceAll(line, w.word, w.postgres)
			} else {
				line = strings.ReplaceAll(line, w.word, w.sqlite)
			}
		}
		if strings.Contains(line, "{") && placeholder.MatchString(line) {
			return "", fmt.Errorf("migration %s line %d: unknown placeholder in %q", name, i+1, strings.TrimSpace(line))
		}
		b.WriteString(line)
	}
	if section != "" {
		return "", fmt.Errorf("migration %s: section %q is not closed with \"-- both:\"", name, section)
	}
	return b.String(), nil
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Migrations returns the embedded migrations rendered for a dialect, in
// order. It fails when a file name is not of the form NNNN_name.sql, a
// version repeats, or a file does not render.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration version %d used twice: %s and %s", v, prev, name)
		}
		seen[v] = name
		b, err := fs.ReadFile(migrationsFS, path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		sql, err := renderMigration(d, name, string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: sql})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`

// Pending returns the migrations not yet applied to the database.
func (d *DB) Pending(ctx context.Context) ([]Migration, error) {
	all, err := Migrations(d.dialect)
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	rows, err := d.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		if Unreachable(err) {
			return nil, err
		}
		// No table yet: everything is pending.
		return all, nil
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Migration
	for _, m := range all {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns the names applied. Several processes may call it at once: on
// PostgreSQL an advisory lock lets one work while the others wait.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	if _, err := d.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	all, err := Migrations(d.dialect)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range all {
		applied := false
		err := d.InTx(ctx, func(tx *Tx) error {
			if err := tx.Lock(ctx, "medisac:migrate"); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, time.Now()); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return done, err
		}
		if applied {
			done = append(done, m.Name)
		}
	}
	return done, nil
}
