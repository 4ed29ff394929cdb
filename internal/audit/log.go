package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// lockKey names the PostgreSQL advisory lock that serialises appends.
const lockKey = "medisac:audit"

// Log is the audit log of one database. It is safe for concurrent use, also
// by several processes sharing one PostgreSQL database.
type Log struct {
	db     *db.DB
	signer *Signer
	cat    *i18n.Catalog
	now    func() time.Time
}

// New returns the audit log stored in d. signer signs and verifies
// checkpoints (nil: Checkpoint fails and Verify treats every checkpoint as
// signed by an unknown key); cat is the node's message catalog, for the
// labels of the CSV export (nil: WriteCSV fails); now is the clock (nil:
// time.Now).
func New(d *db.DB, signer *Signer, cat *i18n.Catalog, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: d, signer: signer, cat: cat, now: now}
}

// Append writes e as the next entry of the chain and returns it with Seq,
// At (the Log's clock, whatever e.At held), PrevHash and Hash set. Given a
// *db.Tx it writes inside that transaction, so the entry commits or rolls
// back with the change it records; given a *db.DB it uses a transaction of
// its own. On PostgreSQL the chain lock is held until that transaction
// ends, so call Append as the last statement of a caller's transaction.
// Text fields are cut to their limits and made valid UTF-8; an invalid
// Action or Outcome, or Details that do not encode as JSON, is an Invalid
// error.
func (l *Log) Append(ctx context.Context, q db.Querier, e Entry) (Entry, error) {
	details, err := e.prepare()
	if err != nil {
		return Entry{}, err
	}
	e.At = l.now().UTC().Truncate(time.Microsecond)
	switch v := q.(type) {
	case *db.Tx:
		err = appendTx(ctx, v, &e, details)
	case *db.DB:
		err = v.InTx(ctx, func(tx *db.Tx) error { return appendTx(ctx, tx, &e, details) })
	default:
		err = fmt.Errorf("audit: Append needs a *db.DB or *db.Tx, got %T", q)
	}
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

func appendTx(ctx context.Context, tx *db.Tx, e *Entry, details string) error {
	if err := tx.Lock(ctx, lockKey); err != nil {
		return fmt.Errorf("audit: lock chain: %w", err)
	}
	var last int64
	prev := GenesisHash
	err := db.ScanErr(tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("audit: read chain tail: %w", err)
	}
	e.Seq = last + 1
	e.PrevHash = prev
	e.Hash = entryHash(e, details)
	_, err = tx.Exec(ctx, `INSERT INTO audit_log
		(seq, at, actor_id, actor, org_id, action, object_type, object_id, outcome, ip, user_agent, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.At, e.ActorID, e.Actor, e.OrgID, e.Action, e.ObjectType, e.ObjectID, e.Outcome,
		e.IP, e.UserAgent, details, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

const entryColumns = `seq, at, actor_id, actor, org_id, action, object_type, object_id, outcome, ip, user_agent, details, prev_hash, hash`

// scanEntry reads one row of entryColumns, returning the stored details
// text beside the entry (whose Details it does not decode).
func scanEntry(rows *sql.Rows) (Entry, string, error) {
	var e Entry
	var details string
	err := rows.Scan(&e.Seq, &e.At, &e.ActorID, &e.Actor, &e.OrgID, &e.Action, &e.ObjectType, &e.ObjectID,
		&e.Outcome, &e.IP, &e.UserAgent, &details, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	return e, details, err
}

func decodeDetails(e *Entry, details string) {
	if details == "" || details == "{}" {
		return
	}
	var m map[string]any
	if json.Unmarshal([]byte(details), &m) == nil {
		e.Details = m
	} else {
		e.Details = map[string]any{"_raw": details}
	}
}

func noSigner() error {
	return apperr.New(apperr.Unavailable, "audit.error.no_signer")
}
