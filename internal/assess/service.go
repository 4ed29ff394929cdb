package assess

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// Service is the checklists' capability. Every change to a sheet, a
// survey or a vendor request is one method: it asks the permission table,
// writes in its own transaction and records the one audit entry of the
// change there, so the web pages, the API and the command line leave the
// same trail. It is built once per process and handed to every door.
type Service struct {
	DB       *db.DB
	Audit    *audit.Log
	Registry *Registry
	// Catalog words the accepted hints kept with a sheet and the e-mails
	// of vendor requests and survey reminders.
	Catalog *i18n.Catalog
	// Mail writes the e-mails of vendor requests and survey reminders.
	Mail VendorMail
	// Hints are where sheet hints come from (the asset register when nil).
	Hints HintSource
	// Wake is called after a change queued e-mail (may be nil).
	Wake func()
	Now  func() time.Time
}

// NewService builds the service over d, writing entries to log; mailer
// and baseURL (the web UI's address) make the e-mails of vendor requests
// and survey reminders.
func NewService(d *db.DB, log *audit.Log, reg *Registry, cat *i18n.Catalog, mailer *notify.Mailer, baseURL string, now func() time.Time) *Service {
	return &Service{DB: d, Audit: log, Registry: reg, Catalog: cat, Now: now,
		Mail: VendorMail{Mailer: mailer, Catalog: cat, BaseURL: baseURL}}
}

// MaxSignerName is the longest name a sign-off may carry, in characters.
const MaxSignerName = 100

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// HintsFrom is where sheet hints come from.
func (s *Service) HintsFrom() HintSource {
	if s.Hints == nil {
		return InventoryHints{}
	}
	return s.Hints
}

func (s *Service) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}

func (s *Service) record(ctx context.Context, q db.Querier, a audit.Actor, ev audit.Event) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, q, a, ev)
}

// member checks that p works in orgID (or is the command line acting on
// it): anyone else finds nothing there.
func member(p *auth.Principal, orgID string) error {
	if p == nil || orgID == "" || p.OrgID != orgID {
		return db.ErrNotFound
	}
	return nil
}

// sheet reads a sheet of orgID and its edition.
func (s *Service) sheet(ctx context.Context, q db.Querier, orgID, sheetID string) (*Sheet, *Edition, error) {
	sh, err := GetSheet(ctx, q, orgID, sheetID)
	if err != nil {
		return nil, nil, err
	}
	e, err := s.Registry.Get(ctx, q, orgID, sh.EditionID)
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

// CreateSheet starts orgID's sheet of an edition for fiscal year fy. An
// unknown edition (or a survey's) is an error on the field "edition".
func (s *Service) CreateSheet(ctx context.Context, p *auth.Principal, orgID, editionID string, fy int) (*Sheet, *Edition, error) {
	if err := auth.AuthorizeMember(p, "assess.sheet.create", orgID); err != nil {
		return nil, nil, err
	}
	e, err := s.Registry.Get(ctx, s.DB, orgID, editionID)
	if err != nil || e.Kind == KindSurvey {
		return nil, nil, apperr.Field("edition", "assess.web.choose_edition")
	}
	var sh *Sheet
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if sh, err = StartSheet(ctx, tx, e, orgID, fy, "", s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.sheet.create", ObjectType: "assess_sheet", ObjectID: sh.ID,
			Details: map[string]any{"edition": e.ID, "fiscal_year": fy}})
	})
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

// SaveAnswers saves answers to a sheet of orgID.
func (s *Service) SaveAnswers(ctx context.Context, p *auth.Principal, orgID, sheetID string, in []Answer) (*Sheet, *Edition, error) {
	return s.saveAnswers(ctx, p, orgID, "assess.answer.save", in, func(tx *db.Tx) (*Sheet, *Edition, audit.Event, error) {
		cur, e, err := s.sheet(ctx, tx, orgID, sheetID)
		if err != nil {
			return nil, nil, audit.Event{}, err
		}
		sh, err := SaveAnswers(ctx, tx, e, orgID, cur.ID, p.UserID, in, s.now())
		return sh, e, audit.Event{OrgID: orgID, Action: "assess.answer.save", ObjectType: "assess_sheet", ObjectID: cur.ID,
			Details: map[string]any{"items": answerItems(in), "answers": in}}, err
	})
}

// answerItems lists the items answers are for, each once, in order.
func answerItems(in []Answer) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range in {
		if !seen[a.ItemID] {
			seen[a.ItemID] = true
			out = append(out, a.ItemID)
		}
	}
	return out
}

// AddEvidence adds a file or a link to an item of a sheet of orgID. An
// unknown item is not found.
func (s *Service) AddEvidence(ctx context.Context, p *auth.Principal, orgID, sheetID, itemID string, in EvidenceInput) (*Evidence, error) {
	if err := auth.AuthorizeMember(p, "assess.evidence.add", orgID); err != nil {
		return nil, err
	}
	var ev *Evidence
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		sh, e, err := s.sheet(ctx, tx, orgID, sheetID)
		if err != nil {
			return err
		}
		if ev, err = AddEvidence(ctx, tx, e, orgID, sh.ID, itemID, p.UserID, in, s.now()); err != nil {
			return err
		}
		d := map[string]any{"item": itemID, "link_type": ev.LinkType, "link_ref": ev.LinkRef}
		if ev.File != nil {
			d["file"], d["size"], d["sha256"] = ev.File.Name, ev.File.Size, ev.File.SHA256
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.evidence.add", ObjectType: "assess_sheet", ObjectID: sh.ID, Details: d})
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// DeleteEvidence removes one piece of evidence from a sheet of orgID.
func (s *Service) DeleteEvidence(ctx context.Context, p *auth.Principal, orgID, sheetID, evidenceID string) (*Evidence, error) {
	if err := auth.AuthorizeMember(p, "assess.evidence.delete", orgID); err != nil {
		return nil, err
	}
	return write(ctx, s, p, func(tx *db.Tx) (*Evidence, audit.Event, error) {
		ev, err := DeleteEvidence(ctx, tx, orgID, sheetID, evidenceID)
		if err != nil {
			return nil, audit.Event{}, err
		}
		return ev, audit.Event{OrgID: orgID, Action: "assess.evidence.delete", ObjectType: "assess_sheet", ObjectID: ev.SheetID,
			Details: map[string]any{"item": ev.ItemID, "evidence": ev.ID}}, nil
	})
}

// EvidenceFile returns the file of a piece of evidence of a sheet of
// orgID, recording that it was read.
func (s *Service) EvidenceFile(ctx context.Context, p *auth.Principal, orgID, sheetID, evidenceID string) (*File, []byte, error) {
	return s.readFile(ctx, p, orgID, func(tx *db.Tx) (string, map[string]any, error) {
		sh, err := GetSheet(ctx, tx, orgID, sheetID)
		if err != nil {
			return "", nil, err
		}
		evs, err := ListEvidence(ctx, tx, orgID, sh.ID, "")
		if err != nil {
			return "", nil, err
		}
		for _, ev := range evs {
			if ev.ID == evidenceID && ev.File != nil {
				return ev.File.ID, map[string]any{"sheet": sh.ID}, nil
			}
		}
		return "", nil, db.ErrNotFound
	})
}

// HintDecisions are the answers to a hint.
var HintDecisions = []string{"accepted", "ignored"}

// HintAction is the permission rule of a decision on a hint.
func HintAction(decision string) string {
	if decision == "ignored" {
		return "assess.hint.ignored"
	}
	return "assess.hint.accepted"
}

// DecideHint accepts or ignores a hint on an item of a sheet of orgID; an
// accepted hint keeps its Japanese text with the sheet.
func (s *Service) DecideHint(ctx context.Context, p *auth.Principal, orgID, sheetID, itemID, key, decision string) error {
	if err := auth.AuthorizeMember(p, HintAction(decision), orgID); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		sh, e, err := s.sheet(ctx, tx, orgID, sheetID)
		if err != nil {
			return err
		}
		text := ""
		if decision == "accepted" {
			hs, err := HintsFor(ctx, tx, s.HintsFrom(), e, orgID, sh.ID, s.now())
			if err != nil {
				return err
			}
			for _, h := range hs {
				if h.ItemID == itemID && h.Key == key && s.Catalog != nil {
					text = s.Catalog.T("ja", h.Msg, h.Args...)
				}
			}
		}
		if err := DecideHint(ctx, tx, s.HintsFrom(), e, orgID, sh.ID, itemID, key, decision, text, p.UserID, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.hint." + decision, ObjectType: "assess_sheet", ObjectID: sh.ID,
			Details: map[string]any{"item": itemID, "hint": key}})
	})
}

// Sign records the sign-off of a complete sheet of orgID under name (p's
// display name when empty).
func (s *Service) Sign(ctx context.Context, p *auth.Principal, orgID, sheetID, name string) (*Sheet, *Edition, error) {
	if err := authorizeSign(p, "assess.sheet.sign", orgID); err != nil {
		return nil, nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = p.DisplayName
	}
	if utf8.RuneCountInString(name) > MaxSignerName {
		return nil, nil, apperr.Field("name", "assess.api.name_too_long", MaxSignerName)
	}
	var sh *Sheet
	var e *Edition
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		cur, ed, err := s.sheet(ctx, tx, orgID, sheetID)
		if err != nil {
			return err
		}
		e = ed
		if sh, err = Sign(ctx, tx, e, p, orgID, cur.ID, name, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.sheet.sign", ObjectType: "assess_sheet", ObjectID: cur.ID,
			Details: map[string]any{"name": name}})
	})
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

// Reopen removes the sign-off of a sheet of orgID.
func (s *Service) Reopen(ctx context.Context, p *auth.Principal, orgID, sheetID string) (*Sheet, *Edition, error) {
	if err := authorizeSign(p, "assess.sheet.reopen", orgID); err != nil {
		return nil, nil, err
	}
	var sh *Sheet
	var e *Edition
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := Reopen(ctx, tx, p, orgID, sheetID, s.now()); err != nil {
			return err
		}
		var err error
		if sh, e, err = s.sheet(ctx, tx, orgID, sheetID); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.sheet.reopen", ObjectType: "assess_sheet", ObjectID: sheetID})
	})
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

// Share says whether orgID shares a sheet's answers with its ISAC.
func (s *Service) Share(ctx context.Context, p *auth.Principal, orgID, sheetID string, shared bool) error {
	if err := auth.AuthorizeMember(p, "assess.sheet.share", orgID); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := SetShared(ctx, tx, orgID, sheetID, shared, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.sheet.share", ObjectType: "assess_sheet", ObjectID: sheetID,
			Details: map[string]any{"shared": shared}})
	})
}

// Report formats.
const (
	FormatPDF  = "pdf"
	FormatXLSX = "xlsx"
)

// Export writes the report of a sheet of orgID to w as format (pdf or
// xlsx) and records the export once it is written. It returns the sheet
// and its edition (for the file's name, ReportName).
func (s *Service) Export(ctx context.Context, p *auth.Principal, orgID, sheetID, format string, w io.Writer) (*Sheet, *Edition, error) {
	if err := member(p, orgID); err != nil {
		return nil, nil, err
	}
	if format != FormatPDF && format != FormatXLSX {
		return nil, nil, apperr.Field("format", "assess.api.format")
	}
	sh, e, err := s.sheet(ctx, s.DB, orgID, sheetID)
	if err != nil {
		return nil, nil, err
	}
	rep, err := BuildReport(ctx, s.DB, e, orgID, sh.ID, s.now())
	if err != nil {
		return nil, nil, err
	}
	if format == FormatPDF {
		err = WritePDF(w, rep)
	} else {
		err = WriteXLSX(w, rep)
	}
	if err != nil {
		return nil, nil, err
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: audit.ActionDataExport, ObjectType: "assess_sheet", ObjectID: sh.ID,
			Details: map[string]any{"format": format, "edition": e.ID, "fiscal_year": sh.FiscalYear}})
	})
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

// ReportName is the file name of a sheet's report.
func ReportName(e *Edition, sh *Sheet, format string) string {
	return fmt.Sprintf("%s-%d.%s", e.ID, sh.FiscalYear, format)
}

// LoadEdition checks an edition file and stores it (see
// Registry.SaveEdition); ownerOrg "" makes it everyone's.
func (s *Service) LoadEdition(ctx context.Context, p *auth.Principal, ownerOrg, file string, data []byte, replace bool) (*Edition, error) {
	if p == nil || !p.System {
		return nil, apperr.New(apperr.Forbidden, "error.forbidden")
	}
	return write(ctx, s, p, func(tx *db.Tx) (*Edition, audit.Event, error) {
		e, err := s.Registry.SaveEdition(ctx, tx, ownerOrg, "", file, data, replace, s.now())
		if err != nil {
			return nil, audit.Event{}, err
		}
		return e, audit.Event{OrgID: ownerOrg, Action: "assess.edition.load", ObjectType: "assess_edition", ObjectID: e.ID,
			Details: map[string]any{"title": e.Title, "fiscal_year": e.FiscalYear}}, nil
	})
}
