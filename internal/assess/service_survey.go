package assess

import (
	"context"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// authorizeSurveyOwner checks that p may run the surveys of orgID: only
// an ISAC operator's own people (the command line too); anyone else is
// told surveys are the operators'.
func authorizeSurveyOwner(p *auth.Principal, action, orgID string) error {
	if err := member(p, orgID); err != nil {
		return err
	}
	operator := p.IsOperator() || p.System
	if err := auth.Authorize(p, action, auth.Target{OrgID: orgID}); err != nil {
		if !operator && apperr.Is(err, apperr.Forbidden) {
			return apperr.New(apperr.Forbidden, "assess.survey.operator_only")
		}
		return err
	}
	if !operator {
		return apperr.New(apperr.Forbidden, "assess.survey.operator_only")
	}
	return nil
}

// CreateSurvey stores a survey questionnaire of the ISAC orgID and invites
// the member organisations that match filter.
func (s *Service) CreateSurvey(ctx context.Context, p *auth.Principal, orgID string, editionFile []byte, filter OrgFilter, dueOn string) (*Survey, error) {
	if err := authorizeSurveyOwner(p, "assess.survey.create", orgID); err != nil {
		return nil, err
	}
	var sv *Survey
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if sv, err = CreateSurvey(ctx, tx, s.Registry, orgID, p.UserID, editionFile, filter, dueOn, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.survey.create", ObjectType: "assess_survey", ObjectID: sv.ID,
			Details: map[string]any{"title": sv.Title, "targets": sv.Targets, "filter": filter}})
	})
	if err != nil {
		return nil, err
	}
	return sv, nil
}

// authorizeOwnedSurvey checks that p may do action to survey id of orgID.
func (s *Service) authorizeOwnedSurvey(ctx context.Context, p *auth.Principal, action, orgID, id string) error {
	if err := AuthorizeOwnedSurvey(ctx, s.DB, p, action, orgID, id); err != nil {
		return err
	}
	if !p.IsOperator() && !p.System {
		return db.ErrNotFound
	}
	return nil
}

// CloseSurvey stops a survey of orgID from taking responses; a closed
// survey is a Conflict.
func (s *Service) CloseSurvey(ctx context.Context, p *auth.Principal, orgID, id string) (*Survey, error) {
	if err := s.authorizeOwnedSurvey(ctx, p, "assess.survey.close", orgID, id); err != nil {
		return nil, err
	}
	var sv *Survey
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		cur, err := OwnedSurvey(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if cur.Status != "open" {
			return apperr.New(apperr.Conflict, "assess.survey.already_closed")
		}
		if err := CloseSurvey(ctx, tx, orgID, id); err != nil {
			return err
		}
		if sv, err = OwnedSurvey(ctx, tx, orgID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.survey.close", ObjectType: "assess_survey", ObjectID: id,
			Details: map[string]any{"title": sv.Title, "targets": sv.Targets, "responded": sv.Responded}})
	})
	if err != nil {
		return nil, err
	}
	return sv, nil
}

// RemindSurvey mails the invited organisations of a survey of orgID that
// have not responded (see RemindSurvey); it returns how many were
// reminded.
func (s *Service) RemindSurvey(ctx context.Context, p *auth.Principal, orgID, id string) (int, error) {
	if err := s.authorizeOwnedSurvey(ctx, p, "assess.survey.remind", orgID, id); err != nil {
		return 0, err
	}
	var n int
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if n, err = RemindSurvey(ctx, tx, s.Mail, orgID, p.OrgName, id, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.survey.remind", ObjectType: "assess_survey", ObjectID: id,
			Details: map[string]any{"organisations": n}})
	})
	if err != nil {
		return 0, err
	}
	s.wake()
	return n, nil
}

// Respond saves orgID's answers to a survey it was invited to.
func (s *Service) Respond(ctx context.Context, p *auth.Principal, orgID, surveyID string, in []Answer) (*Sheet, *Edition, error) {
	return s.saveAnswers(ctx, p, orgID, "assess.survey.respond", in, func(tx *db.Tx) (*Sheet, *Edition, audit.Event, error) {
		sv, e, err := SurveyFor(ctx, tx, s.Registry, orgID, surveyID)
		if err != nil {
			return nil, nil, audit.Event{}, err
		}
		sh, err := Respond(ctx, tx, s.Registry, orgID, sv.ID, p.UserID, in, s.now())
		if err != nil {
			return nil, nil, audit.Event{}, err
		}
		return sh, e, audit.Event{OrgID: orgID, Action: "assess.survey.respond", ObjectType: "assess_survey", ObjectID: sv.ID,
			Details: map[string]any{"sheet": sh.ID}}, nil
	})
}
