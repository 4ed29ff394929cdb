package assess

import (
	"context"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// VendorRequestError is the refusal of one of several vendor requests
// made together: VendorID names the vendor whose request was refused.
type VendorRequestError struct {
	VendorID string
	Err      error
}

func (e *VendorRequestError) Error() string { return e.Err.Error() }
func (e *VendorRequestError) Unwrap() error { return e.Err }

// RequestVendors asks one or more of orgID's inventory vendors to fill a
// vendor sheet, mailing each (a link for vendors outside medisac), all or
// none. A refusal is a *VendorRequestError naming the vendor.
func (s *Service) RequestVendors(ctx context.Context, p *auth.Principal, orgID string, ins ...VendorRequestInput) ([]*VendorRequest, error) {
	if err := auth.AuthorizeMember(p, "assess.vendor.request", orgID); err != nil {
		return nil, err
	}
	var out []*VendorRequest
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		for _, in := range ins {
			req, token, err := RequestVendorSheet(ctx, tx, s.Registry, orgID, p.UserID, in, s.now())
			if err != nil {
				return &VendorRequestError{VendorID: in.VendorID, Err: err}
			}
			e, err := s.Registry.Get(ctx, tx, orgID, req.EditionID)
			if err != nil {
				return err
			}
			if err := s.Mail.Send(ctx, tx, req, p.OrgName, e.Title, token, false); err != nil {
				return err
			}
			if err := s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.vendor.request", ObjectType: "assess_vendor_request", ObjectID: req.ID,
				Details: map[string]any{"vendor": req.VendorName, "edition": e.ID, "fiscal_year": req.FiscalYear, "by_link": req.ByLink(), "email": req.VendorEmail}}); err != nil {
				return err
			}
			out = append(out, req)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}

// RemindVendor mails the vendor of a request of orgID again, with a fresh
// link when it answers by link.
func (s *Service) RemindVendor(ctx context.Context, p *auth.Principal, orgID, id string) (*VendorRequest, error) {
	if err := auth.AuthorizeMember(p, "assess.vendor.remind", orgID); err != nil {
		return nil, err
	}
	var req *VendorRequest
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		token, err := RenewLink(ctx, tx, orgID, id, s.now())
		if err != nil {
			return err
		}
		if req, err = GetVendorRequest(ctx, tx, orgID, id); err != nil {
			return err
		}
		if req.VendorEmail == "" {
			return apperr.New(apperr.Invalid, "assess.vendor.email_needed")
		}
		title := req.EditionID
		if e, err := s.Registry.Get(ctx, tx, orgID, req.EditionID); err == nil {
			title = e.Title
		}
		if err := s.Mail.Send(ctx, tx, req, p.OrgName, title, token, true); err != nil {
			return err
		}
		if err := MarkReminded(ctx, tx, orgID, id, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.vendor.remind", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "email": req.VendorEmail}})
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return req, nil
}

// AttachVendorFile records a PDF the vendor sent outside medisac as the
// answer to a request of orgID.
func (s *Service) AttachVendorFile(ctx context.Context, p *auth.Principal, orgID, id, name string, data []byte) (*VendorRequest, error) {
	if err := auth.AuthorizeMember(p, "assess.vendor.file", orgID); err != nil {
		return nil, err
	}
	var req *VendorRequest
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if req, err = AttachVendorPDF(ctx, tx, orgID, id, p.UserID, name, data, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: orgID, Action: "assess.vendor.file", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "file": name, "size": len(data)}})
	})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// VendorFile returns the PDF recorded for a request of orgID, recording
// that it was read.
func (s *Service) VendorFile(ctx context.Context, p *auth.Principal, orgID, id string) (*File, []byte, error) {
	return s.readFile(ctx, p, orgID, func(tx *db.Tx) (string, map[string]any, error) {
		req, err := GetVendorRequest(ctx, tx, orgID, id)
		if err != nil {
			return "", nil, err
		}
		if req.FileID == "" {
			return "", nil, db.ErrNotFound
		}
		return req.FileID, map[string]any{"vendor_request": req.ID}, nil
	})
}

// AnswerFromOwnSheet answers a request addressed to the vendor
// organisation orgID with a copy of its own complete sheet, signed with
// the organisation's and p's names. The entry goes to the customer's log,
// with a copy in the vendor's.
func (s *Service) AnswerFromOwnSheet(ctx context.Context, p *auth.Principal, orgID, id string) (*VendorRequest, error) {
	if err := AuthorizeInboxAnswer(ctx, s.DB, p, orgID, id); err != nil {
		return nil, err
	}
	var req *VendorRequest
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if req, err = AnswerFromVendorSheet(ctx, tx, s.Registry, orgID, id, p.UserID, p.OrgName+" "+p.DisplayName, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, p.Actor(), audit.Event{OrgID: req.OrgID, Action: "assess.vendor.answer", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "customer": req.CustomerName, "sheet": req.SheetID}})
	})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// AnswerByLink saves the answers a vendor outside medisac gave through
// the link of token, signed with signer's name; ip and userAgent say where
// the form came from. The entry goes to the customer's log.
func (s *Service) AnswerByLink(ctx context.Context, token, signer string, in []Answer, ip, userAgent string) (*VendorRequest, error) {
	var got *VendorRequest
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if got, err = AnswerByLink(ctx, tx, s.Registry, token, signer, in, s.now()); err != nil {
			return err
		}
		a := audit.Actor{Email: "vendor-link:" + got.VendorEmail, IP: ip, UserAgent: userAgent, Via: audit.ViaWeb}
		return s.record(ctx, tx, a, audit.Event{OrgID: got.OrgID, Action: "assess.vendor.answer", ObjectType: "assess_vendor_request", ObjectID: got.ID,
			Details: map[string]any{"vendor": got.VendorName, "signer": strings.TrimSpace(signer), "sheet": got.SheetID}})
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}
