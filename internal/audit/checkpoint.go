package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// Checkpoint is a signed statement that entry Seq of the chain had Hash at
// time At. Signature is the Ed25519 signature by key KeyID over
// SignedMessage.
type Checkpoint struct {
	Seq       int64
	At        time.Time
	Hash      string
	KeyID     string
	Signature []byte
}

// SignedMessage returns the bytes a checkpoint's signature covers:
// "medisac.audit.checkpoint.v1\n" seq "\n" hash "\n" at "\n" key_id, with
// seq in decimal and at in UTC at microsecond precision
// (2006-01-02T15:04:05.000000Z).
func (c Checkpoint) SignedMessage() []byte {
	return []byte("medisac.audit.checkpoint.v1\n" + strconv.FormatInt(c.Seq, 10) + "\n" + c.Hash + "\n" +
		c.At.UTC().Format(hashTimeFormat) + "\n" + c.KeyID)
}

// Checkpoint signs the latest entry's (seq, hash) and stores the
// checkpoint. When nothing was appended since the latest checkpoint it
// returns that one; on an empty log it returns the zero Checkpoint. Before
// signing it checks that the entries added since the previous checkpoint
// link up from it, and refuses (Internal error, key
// audit.error.checkpoint_refused) when they do not: run Verify to find out
// why. Several nodes may call it at once.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, noSigner()
	}
	prev, err := l.latestCheckpoint(ctx)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return Checkpoint{}, err
	}
	hasPrev := err == nil
	var tailSeq int64
	var tailHash string
	err = db.ScanErr(l.db.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&tailSeq, &tailHash))
	if errors.Is(err, db.ErrNotFound) {
		if hasPrev {
			return Checkpoint{}, refused(prev.Seq, "audit.verify.truncated", int64(0), prev.Seq)
		}
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read chain tail: %w", err)
	}
	if hasPrev {
		if p := l.checkCheckpointSignature(prev); p != nil {
			return Checkpoint{}, refused(p.Seq, p.Key, p.Args...)
		}
		if tailSeq < prev.Seq {
			return Checkpoint{}, refused(tailSeq+1, "audit.verify.truncated", tailSeq, prev.Seq)
		}
		if tailSeq == prev.Seq {
			if tailHash != prev.Hash {
				return Checkpoint{}, refused(prev.Seq, "audit.verify.checkpoint_mismatch", prev.Seq)
			}
			return prev, nil
		}
	}
	w := newWalker()
	if hasPrev {
		w.expect, w.prev = prev.Seq+1, prev.Hash
	}
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE seq >= ? AND seq <= ? ORDER BY seq`, w.expect, tailSeq)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if p := w.step(scanEntry(rows)); p != nil {
			return Checkpoint{}, refused(p.Seq, p.Key, p.Args...)
		}
	}
	if err := rows.Err(); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read chain: %w", err)
	}
	rows.Close()
	if w.expect != tailSeq+1 || w.prev != tailHash {
		return Checkpoint{}, refused(w.expect, "audit.verify.gap", w.expect)
	}
	cp := Checkpoint{Seq: tailSeq, At: l.now().UTC().Truncate(time.Microsecond), Hash: tailHash, KeyID: l.signer.KeyID()}
	cp.Signature = l.signer.sign(cp.SignedMessage())
	_, err = l.db.Exec(ctx, `INSERT INTO audit_checkpoints (seq, at, hash, key_id, signature) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (seq) DO NOTHING`, cp.Seq, cp.At, cp.Hash, cp.KeyID, base64.StdEncoding.EncodeToString(cp.Signature))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: store checkpoint: %w", err)
	}
	return l.checkpointAt(ctx, cp.Seq)
}

// LatestCheckpoint returns the checkpoint with the highest seq, or an error
// wrapping db.ErrNotFound when there is none. It does not check the
// signature; Verify does.
func (l *Log) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	return l.latestCheckpoint(ctx)
}

func (l *Log) latestCheckpoint(ctx context.Context) (Checkpoint, error) {
	return scanCheckpoint(l.db.QueryRow(ctx, `SELECT seq, at, hash, key_id, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`))
}

func (l *Log) checkpointAt(ctx context.Context, seq int64) (Checkpoint, error) {
	return scanCheckpoint(l.db.QueryRow(ctx, `SELECT seq, at, hash, key_id, signature FROM audit_checkpoints WHERE seq = ?`, seq))
}

type scanner interface{ Scan(dest ...any) error }

func scanCheckpoint(r scanner) (Checkpoint, error) {
	var c Checkpoint
	var sig string
	if err := db.ScanErr(r.Scan(&c.Seq, &c.At, &c.Hash, &c.KeyID, &sig)); err != nil {
		return Checkpoint{}, err
	}
	c.At = c.At.UTC()
	c.Signature, _ = base64.StdEncoding.DecodeString(sig)
	return c, nil
}

// checkCheckpointSignature returns the problem with c's signature, or nil.
func (l *Log) checkCheckpointSignature(c Checkpoint) *problem {
	ok, known := l.signer.verify(c.KeyID, c.SignedMessage(), c.Signature)
	switch {
	case !known:
		return &problem{Seq: c.Seq, Key: "audit.verify.checkpoint_unknown_key", Args: []any{c.Seq, c.KeyID}}
	case !ok:
		return &problem{Seq: c.Seq, Key: "audit.verify.checkpoint_bad_signature", Args: []any{c.Seq}}
	}
	return nil
}

func refused(seq int64, reason string, args ...any) error {
	return &apperr.Error{Code: apperr.Internal, Key: "audit.error.checkpoint_refused", Args: []any{seq},
		Err: fmt.Errorf("audit: chain problem at seq %d: %s %v", seq, reason, args)}
}
