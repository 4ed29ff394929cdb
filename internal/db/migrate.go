package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationsFS embed.FS

// Migration is one numbered schema change, with the same name in both
// dialect folders.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of a dialect in order. It fails
// when a file name is not of the form NNNN_name.sql or a version repeats.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationsFS, dir)
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
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dir, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration version %d used twice: %s and %s", v, prev, name)
		}
		seen[v] = name
		b, err := fs.ReadFile(migrationsFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
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
