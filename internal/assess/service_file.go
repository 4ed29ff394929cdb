package assess

import (
	"context"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// readFile returns a stored file of orgID, recording that p read it: find
// names the file (or returns db.ErrNotFound) and gives the details of the
// entry besides the file's name.
func (s *Service) readFile(ctx context.Context, p *auth.Principal, orgID string,
	find func(tx *db.Tx) (fileID string, details map[string]any, err error)) (*File, []byte, error) {
	if err := member(p, orgID); err != nil {
		return nil, nil, err
	}
	var f *File
	var data []byte
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		fileID, details, err := find(tx)
		if err != nil {
			return err
		}
		if f, data, err = ReadFile(ctx, tx, orgID, fileID); err != nil {
			return err
		}
		details["name"] = f.Name
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: audit.ActionSensitiveRead, ObjectType: "assess_file", ObjectID: f.ID,
			Details: details})
	})
	if err != nil {
		return nil, nil, err
	}
	return f, data, nil
}
