package assess

import (
	"context"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// write runs do in one transaction and appends the audit entry it
// returns, giving back do's value (the zero T when anything failed).
func write[T any](ctx context.Context, s *Service, p *auth.Principal, do func(tx *db.Tx) (T, audit.Event, error)) (T, error) {
	var out T
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		v, ev, err := do(tx)
		if err != nil {
			return err
		}
		out = v
		return s.record(ctx, tx, p.Actor(), ev)
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// saveAnswers checks that p may do action in orgID with the answers in
// (at least one) and saves them with do in one transaction, appending the
// entry do returns.
func (s *Service) saveAnswers(ctx context.Context, p *auth.Principal, orgID, action string, in []Answer,
	do func(tx *db.Tx) (*Sheet, *Edition, audit.Event, error)) (*Sheet, *Edition, error) {
	if err := auth.AuthorizeMember(p, action, orgID); err != nil {
		return nil, nil, err
	}
	if len(in) == 0 {
		return nil, nil, apperr.Field("answers", "assess.api.no_answers")
	}
	type saved struct {
		sh *Sheet
		e  *Edition
	}
	out, err := write(ctx, s, p, func(tx *db.Tx) (saved, audit.Event, error) {
		sh, e, ev, err := do(tx)
		return saved{sh, e}, ev, err
	})
	return out.sh, out.e, err
}
