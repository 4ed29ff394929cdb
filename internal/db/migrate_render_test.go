package db

import (
	"strings"
	"testing"
)

func TestRenderMigration(t *testing.T) {
	src := "CREATE TABLE t (\n\tat {timestamp} NOT NULL,\n\tn {bigint}\n){without_rowid};\n" +
		"-- postgres:\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;\n" +
		"-- sqlite:\nCREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END;\n" +
		"-- both:\nCREATE INDEX t_at ON t(at);\n"
	want := map[Dialect]string{
		Postgres: "CREATE TABLE t (\n\tat TIMESTAMPTZ NOT NULL,\n\tn BIGINT\n);\n" +
			"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;\n" +
			"CREATE INDEX t_at ON t(at);\n",
		SQLite: "CREATE TABLE t (\n\tat TIMESTAMP NOT NULL,\n\tn INTEGER\n) WITHOUT ROWID;\n" +
			"CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END;\n" +
			"CREATE INDEX t_at ON t(at);\n",
	}
	for d, w := range want {
		got, err := renderMigration(d, "0001_t.sql", src)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if got != w {
			t.Errorf("%s rendered\n%s\nwant\n%s", d, got, w)
		}
	}
	// JSON defaults are not placeholders.
	if got, err := renderMigration(SQLite, "x", "d TEXT NOT NULL DEFAULT '{}'\n"); err != nil || got != "d TEXT NOT NULL DEFAULT '{}'\n" {
		t.Errorf("'{}' default: %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"unknown placeholder": "a {timestmp} NOT NULL\n",
		"open section":        "-- sqlite:\nSELECT 1;\n",
	} {
		if _, err := renderMigration(Postgres, "0002_bad.sql", bad); err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
	}
}

// Every shipped migration renders for both databases with no placeholder
// left, and each database gets the same versions.
func TestMigrationsRenderForBoth(t *testing.T) {
	pg, err := Migrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	sq, err := Migrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) != len(sq) || len(pg) == 0 {
		t.Fatalf("postgres %d migrations, sqlite %d", len(pg), len(sq))
	}
	for i := range pg {
		if pg[i].Version != sq[i].Version || pg[i].Name != sq[i].Name {
			t.Errorf("migration %d: %s vs %s", i, pg[i].Name, sq[i].Name)
		}
		for _, m := range []Migration{pg[i], sq[i]} {
			if placeholder.MatchString(m.SQL) || strings.Contains(m.SQL, "-- both:") {
				t.Errorf("%s left a placeholder or marker", m.Name)
			}
		}
	}
}
