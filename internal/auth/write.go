package auth

import (
	"context"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// write runs do in one transaction and appends the audit entry that entry
// makes of do's value, giving the value back (the zero T when anything
// failed).
func write[T any](ctx context.Context, s *Orgs, p *Principal, do func(tx *db.Tx) (T, error), entry func(T) audit.Event) (T, error) {
	var out T
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		v, err := do(tx)
		if err != nil {
			return err
		}
		out = v
		return s.record(ctx, tx, p, entry(v))
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
