package audit

import (
	"context"
	"fmt"

	"github.com/medisac/medisac/internal/i18n"
)

// Report is the result of Verify. When OK is false, BadSeq names the first
// bad entry (or the checkpoint at fault) and Reason is a message key in the
// audit catalogs, filled by Args, saying what is wrong.
type Report struct {
	OK bool
	// Entries is the number of entries checked.
	Entries int64
	// Checkpoints is the number of checkpoints checked.
	Checkpoints int
	// LastSeq and LastHash describe the last entry checked.
	LastSeq  int64
	LastHash string
	// LatestCheckpoint is the highest checkpoint found valid (zero Seq
	// when none). Entries after it are protected by the hash chain only.
	LatestCheckpoint Checkpoint
	BadSeq           int64
	Reason           string
	Args             []any
}

// Message returns the report's reason in lang, or the all-clear message
// when OK.
func (r Report) Message(c *i18n.Catalog, lang string) string {
	if r.OK {
		return c.T(lang, "audit.verify.ok", r.Entries, r.Checkpoints, r.LatestCheckpoint.Seq)
	}
	return c.T(lang, r.Reason, r.Args...)
}

// problem is one finding of the walker: the seq at fault and a message key.
type problem struct {
	Seq  int64
	Key  string
	Args []any
}

// walker checks entries one by one in seq order: continuity, link to the
// previous hash, and the entry's own hash.
type walker struct {
	expect int64
	prev   string
}

func newWalker() *walker { return &walker{expect: 1, prev: GenesisHash} }

func (w *walker) step(e Entry, details string, scanErr error) *problem {
	if scanErr != nil {
		return &problem{Seq: w.expect, Key: "audit.verify.unreadable", Args: []any{w.expect}}
	}
	switch {
	case e.Seq > w.expect:
		return &problem{Seq: w.expect, Key: "audit.verify.gap", Args: []any{w.expect}}
	case e.Seq < w.expect:
		return &problem{Seq: e.Seq, Key: "audit.verify.unexpected_seq", Args: []any{e.Seq}}
	}
	if entryHash(&e, details) != e.Hash {
		return &problem{Seq: e.Seq, Key: "audit.verify.hash_mismatch", Args: []any{e.Seq}}
	}
	if e.PrevHash != w.prev {
		return &problem{Seq: e.Seq, Key: "audit.verify.broken_link", Args: []any{e.Seq, e.Seq - 1}}
	}
	w.expect++
	w.prev = e.Hash
	return nil
}

// Verify walks the whole chain in seq order, streaming, and checks every
// entry and every checkpoint as described in the package documentation. It
// stops at the first problem. The error is for failures to read the
// database; a damaged log is reported in Report, with OK false.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	var rep Report
	// Checkpoints are bounded first, so every entry they cover was
	// committed before the entries are read.
	var cpMax int64
	if err := l.db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints`).Scan(&cpMax); err != nil {
		return rep, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	cps, err := l.db.Query(ctx, `SELECT seq, at, hash, key_id, signature FROM audit_checkpoints WHERE seq <= ? ORDER BY seq`, cpMax)
	if err != nil {
		return rep, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	defer cps.Close()
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return rep, fmt.Errorf("audit: read chain: %w", err)
	}
	defer rows.Close()

	var cp *Checkpoint
	nextCP := func() (*problem, error) {
		cp = nil
		if !cps.Next() {
			return nil, cps.Err()
		}
		c, err := scanCheckpoint(cps)
		if err != nil {
			return nil, fmt.Errorf("audit: read checkpoint: %w", err)
		}
		cp = &c
		return l.checkCheckpointSignature(c), nil
	}
	fail := func(p *problem) (Report, error) {
		rep.BadSeq, rep.Reason, rep.Args = p.Seq, p.Key, p.Args
		return rep, nil
	}
	if p, err := nextCP(); err != nil {
		return rep, err
	} else if p != nil {
		return fail(p)
	}
	w := newWalker()
	for rows.Next() {
		e, details, scanErr := scanEntry(rows)
		if p := w.step(e, details, scanErr); p != nil {
			return fail(p)
		}
		rep.Entries++
		rep.LastSeq, rep.LastHash = e.Seq, e.Hash
		for cp != nil && cp.Seq <= e.Seq {
			if cp.Seq < e.Seq || cp.Hash != e.Hash {
				return fail(&problem{Seq: cp.Seq, Key: "audit.verify.checkpoint_mismatch", Args: []any{cp.Seq}})
			}
			rep.Checkpoints++
			rep.LatestCheckpoint = *cp
			p, err := nextCP()
			if err != nil {
				return rep, err
			}
			if p != nil {
				return fail(p)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit: read chain: %w", err)
	}
	if cp != nil {
		return fail(&problem{Seq: rep.LastSeq + 1, Key: "audit.verify.truncated", Args: []any{rep.LastSeq, cp.Seq}})
	}
	rep.OK = true
	return rep, nil
}
