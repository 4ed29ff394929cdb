package vuln

import (
	"context"
	"database/sql"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// The import states of vuln_imports.state; "" is a finished attempt (ok
// says how it ended).
const (
	ImportRunning     = "running"
	ImportInterrupted = "interrupted"
)

// ImportLog is one recorded import attempt.
type ImportLog struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name"`
	Format   string    `json:"format"`
	Records  int       `json:"records"`
	OK       bool      `json:"ok"`
	ErrorKey string    `json:"error_key,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// State is ImportRunning, ImportInterrupted or "" (finished).
	State string `json:"state,omitempty"`
	// Completed says, of an interrupted import, that a later import of
	// a file of the same name finished.
	Completed bool `json:"completed,omitempty"`
}

// Running reports whether the import is still being written.
func (l ImportLog) Running() bool { return l.State == ImportRunning }

// Interrupted reports whether the import stopped part-way.
func (l ImportLog) Interrupted() bool { return l.State == ImportInterrupted }

const importLogSelect = `SELECT i.at, i.name, i.format, i.records, i.ok, i.error_key, i.detail, i.state,
	i.state = 'interrupted' AND EXISTS (SELECT 1 FROM vuln_imports j WHERE j.name = i.name AND j.ok AND j.at > i.at)
	FROM vuln_imports i`

func scanImportLogs(rows *sql.Rows) ([]ImportLog, error) {
	defer rows.Close()
	var out []ImportLog
	for rows.Next() {
		var l ImportLog
		if err := rows.Scan(&l.At, &l.Name, &l.Format, &l.Records, &l.OK, &l.ErrorKey, &l.Detail, &l.State, &l.Completed); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// RecentImports returns the latest import attempts, newest first.
func RecentImports(ctx context.Context, q db.Querier, limit int) ([]ImportLog, error) {
	rows, err := q.Query(ctx, importLogSelect+` ORDER BY i.at DESC, i.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return scanImportLogs(rows)
}

// InterruptedImports returns the imports that stopped part-way and that
// no later import of a file of the same name has completed, oldest first.
func InterruptedImports(ctx context.Context, q db.Querier) ([]ImportLog, error) {
	rows, err := q.Query(ctx, importLogSelect+` WHERE i.state = 'interrupted'
		AND NOT EXISTS (SELECT 1 FROM vuln_imports j WHERE j.name = i.name AND j.ok AND j.at > i.at) ORDER BY i.at, i.id`)
	if err != nil {
		return nil, err
	}
	return scanImportLogs(rows)
}
