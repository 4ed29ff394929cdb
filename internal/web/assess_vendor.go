package web

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

func (s *Server) assessVendorRoutes(mux *http.ServeMux) {
	mux.Handle("GET /assess/vendors", s.requireUser(s.assessVendors))
	mux.Handle("POST /assess/vendors", s.requireUser(s.assessVendorRequest))
	mux.Handle("POST /assess/vendors/{id}/remind", s.requireUser(s.assessVendorRemind))
	mux.Handle("POST /assess/vendors/{id}/file", s.requireUser(s.assessVendorFile))
	mux.Handle("GET /assess/vendors/{id}/file", s.requireUser(s.assessVendorFileGet))
	mux.Handle("GET "+assess.InboxPath, s.requireUser(s.assessInbox))
	mux.Handle("POST "+assess.InboxPath+"/{id}/answer", s.requireUser(s.assessInboxAnswer))
	mux.HandleFunc("GET /vendor-sheet/{token}", s.assessLinkForm)
	mux.HandleFunc("POST /vendor-sheet/{token}", s.assessLinkSubmit)
}

func (s *Server) vendorMail() assess.VendorMail {
	return assess.VendorMail{Mailer: s.Mailer, Catalog: s.Catalog, BaseURL: s.BaseURL}
}

type assessVendorRow struct {
	R       *assess.VendorRequest
	State   string
	Edition string
}

type assessVendorsView struct {
	assessHelpers
	Requests   []assessVendorRow
	Candidates []assess.VendorCandidate
	Editions   []*assess.Edition
	Years      []int
	FY         int
	Today      string
}

func (s *Server) assessVendors(w http.ResponseWriter, r *http.Request) {
	s.renderAssessVendors(w, r, nil, nil)
}

func (s *Server) renderAssessVendors(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	p := state(r).p
	reg := assessRegistry()
	v := assessVendorsView{FY: assess.FiscalYearOf(s.Now()), Today: assess.Today(s.Now())}
	v.Years = []int{v.FY + 1, v.FY, v.FY - 1}
	rs, err := assess.ListVendorRequests(ctx, s.DB, p.OrgID, 0)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, x := range rs {
		row := assessVendorRow{R: x, State: x.State(v.Today), Edition: x.EditionID}
		if e, err := reg.Get(ctx, s.DB, p.OrgID, x.EditionID); err == nil {
			row.Edition = e.Title + " " + e.Version
		}
		v.Requests = append(v.Requests, row)
	}
	if v.Candidates, err = assess.VendorCandidates(ctx, s.DB, p.OrgID); err != nil {
		s.renderError(w, r, err)
		return
	}
	es, err := reg.List(ctx, s.DB, p.OrgID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, e := range es {
		if e.Kind == assess.KindVendor {
			v.Editions = append(v.Editions, e)
		}
	}
	pg := s.newPage(w, r, "assess.vendors.title")
	pg.Data = v
	pg.Form = withForm(url.Values{}, submitted)
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "assess_vendors", pg)
}

func (s *Server) assessVendorRequest(w http.ResponseWriter, r *http.Request) {
	if s.refuseAction(w, r, "assess.vendor.request") {
		return
	}
	ctx := r.Context()
	p := state(r).p
	f := r.PostForm
	fy, _ := strconv.Atoi(f.Get("year"))
	vendors := f["vendor"]
	if len(vendors) == 0 {
		s.renderAssessVendors(w, r, apperr.Field("vendor", "assess.vendors.choose"), f)
		return
	}
	reg := assessRegistry()
	e, err := reg.Get(ctx, s.DB, p.OrgID, f.Get("edition"))
	if err != nil {
		s.renderAssessVendors(w, r, apperr.Field("edition", "assess.vendor.edition"), f)
		return
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		for _, vid := range vendors {
			in := assess.VendorRequestInput{VendorID: vid, EditionID: e.ID, FiscalYear: fy, DueOn: f.Get("due_on"), Email: f.Get("email." + vid)}
			req, token, err := assess.RequestVendorSheet(ctx, tx, reg, p.OrgID, p.UserID, in, s.Now())
			if err != nil {
				return s.vendorErr(r, tx, p.OrgID, vid, err)
			}
			if err := s.vendorMail().Send(ctx, tx, req, p.OrgName, e.Title, token, false); err != nil {
				return err
			}
			if err := s.auditEvent(r, tx, audit.Entry{Action: "assess.vendor.request", ObjectType: "assess_vendor_request", ObjectID: req.ID,
				Details: map[string]any{"vendor": req.VendorName, "edition": e.ID, "fiscal_year": fy, "by_link": req.ByLink(), "email": req.VendorEmail}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.renderAssessVendors(w, r, err, f)
		return
	}
	if s.Queue != nil {
		s.Queue.Notify()
	}
	s.flash(w, r, "/assess/vendors", "flash.assess_vendor_requested")
}

// vendorErr names the vendor in a refusal about one of several requests.
func (s *Server) vendorErr(r *http.Request, q db.Querier, orgID, vendorID string, err error) error {
	ae := apperr.From(err)
	if ae.Code == apperr.Internal {
		return err
	}
	name := vendorID
	if cs, e2 := assess.VendorCandidates(r.Context(), q, orgID); e2 == nil {
		for _, c := range cs {
			if c.Vendor.ID == vendorID {
				name = c.Vendor.Name
			}
		}
	}
	out := apperr.New(ae.Code, "assess.vendors.for_vendor", name, s.Catalog.T(state(r).lang, ae.Key, ae.Args...))
	out.Field, out.Err = ae.Field, err
	return out
}

func (s *Server) assessVendorRemind(w http.ResponseWriter, r *http.Request) {
	if s.refuseAction(w, r, "assess.vendor.remind") {
		return
	}
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		token, err := assess.RenewLink(ctx, tx, p.OrgID, id, s.Now())
		if err != nil {
			return err
		}
		req, err := assess.GetVendorRequest(ctx, tx, p.OrgID, id)
		if err != nil {
			return err
		}
		if req.VendorEmail == "" {
			return apperr.New(apperr.Invalid, "assess.vendor.email_needed")
		}
		title := req.EditionID
		if e, err := assessRegistry().Get(ctx, tx, p.OrgID, req.EditionID); err == nil {
			title = e.Title
		}
		if err := s.vendorMail().Send(ctx, tx, req, p.OrgName, title, token, true); err != nil {
			return err
		}
		if err := assess.MarkReminded(ctx, tx, p.OrgID, id, s.Now()); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: "assess.vendor.remind", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "email": req.VendorEmail}})
	})
	if err != nil {
		s.renderAssessVendors(w, r, err, nil)
		return
	}
	if s.Queue != nil {
		s.Queue.Notify()
	}
	s.flash(w, r, "/assess/vendors", "flash.assess_vendor_reminded")
}

func (s *Server) assessVendorFile(w http.ResponseWriter, r *http.Request) {
	if s.refuseAction(w, r, "assess.vendor.file") {
		return
	}
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	var name string
	var data []byte
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err == nil {
				data, err = io.ReadAll(io.LimitReader(f, assess.MaxFileSize+1))
				f.Close()
			}
			if err != nil {
				s.renderAssessVendors(w, r, err, nil)
				return
			}
			name = fhs[0].Filename
		}
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		req, err := assess.AttachVendorPDF(ctx, tx, p.OrgID, id, p.UserID, name, data, s.Now())
		if err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: "assess.vendor.file", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "file": name, "size": len(data)}})
	})
	if err != nil {
		s.renderAssessVendors(w, r, err, nil)
		return
	}
	s.flash(w, r, "/assess/vendors", "flash.assess_vendor_file")
}

func (s *Server) assessVendorFileGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := state(r).p
	req, err := assess.GetVendorRequest(ctx, s.DB, p.OrgID, r.PathValue("id"))
	if err == nil && req.FileID == "" {
		err = db.ErrNotFound
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	f, data, err := assess.ReadFile(ctx, s.DB, p.OrgID, req.FileID)
	if err == nil {
		err = s.auditEvent(r, s.DB, audit.Entry{Action: audit.ActionSensitiveRead, ObjectType: "assess_file", ObjectID: f.ID,
			Details: map[string]any{"name": f.Name, "vendor_request": req.ID}})
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(f.Name))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

type assessInboxView struct {
	assessHelpers
	Requests []assessVendorRow
	Own      map[string]assess.Progress
}

// OwnProgress is the progress of the vendor's own sheet for a request's
// edition and year, or nil when it has none.
func (v assessInboxView) OwnProgress(r *assess.VendorRequest) *assess.Progress {
	p, ok := v.Own[r.EditionID+"/"+strconv.Itoa(r.FiscalYear)]
	if !ok {
		return nil
	}
	return &p
}

func (s *Server) assessInbox(w http.ResponseWriter, r *http.Request) {
	s.renderAssessInbox(w, r, nil)
}

func (s *Server) renderAssessInbox(w http.ResponseWriter, r *http.Request, prevErr error) {
	ctx := r.Context()
	p := state(r).p
	reg := assessRegistry()
	rs, err := assess.VendorInbox(ctx, s.DB, p.OrgID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	today := assess.Today(s.Now())
	v := assessInboxView{Own: map[string]assess.Progress{}}
	for _, x := range rs {
		row := assessVendorRow{R: x, State: x.State(today), Edition: x.EditionID}
		if e, err := reg.Get(ctx, s.DB, x.OrgID, x.EditionID); err == nil {
			row.Edition = e.Title + " " + e.Version
		}
		v.Requests = append(v.Requests, row)
	}
	own, err := assess.ListSheets(ctx, s.DB, p.OrgID, assess.SheetFilter{})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, sh := range own {
		e, err := reg.Get(ctx, s.DB, p.OrgID, sh.EditionID)
		if err != nil || e.Kind != assess.KindVendor {
			continue
		}
		full, err := assess.GetSheet(ctx, s.DB, p.OrgID, sh.ID)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Own[sh.EditionID+"/"+strconv.Itoa(sh.FiscalYear)] = full.Progress(e)
	}
	pg := s.newPage(w, r, "assess.inbox.title")
	pg.Data = v
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "assess_inbox", pg)
}

func (s *Server) assessInboxAnswer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	if s.refuseErr(w, r, assess.AuthorizeInboxAnswer(ctx, s.DB, p, p.OrgID, id)) {
		return
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		req, err := assess.AnswerFromVendorSheet(ctx, tx, assessRegistry(), p.OrgID, id, p.UserID, p.OrgName+" "+p.DisplayName, s.Now())
		if err != nil {
			return err
		}
		// The customer's log records that its request was answered.
		if err := s.auditEvent(r, tx, audit.Entry{OrgID: req.OrgID, Action: "assess.vendor.answer", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"vendor": req.VendorName, "sheet": req.SheetID}}); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: "assess.vendor.answer", ObjectType: "assess_vendor_request", ObjectID: id,
			Details: map[string]any{"customer": req.CustomerName}})
	})
	if err != nil {
		s.renderAssessInbox(w, r, err)
		return
	}
	s.flash(w, r, assess.InboxPath, "flash.assess_vendor_answered")
}

type assessLinkView struct {
	assessHelpers
	Request  *assess.VendorRequest
	Edition  *assess.Edition
	Problems []string
	FYStart  string
	FYEnd    string
	Today    string
}

// Field names the form field of an item cell.
func (assessLinkView) Field(kind, item, cell string) string { return kind + "." + item + "." + cell }

// linkGone shows the page for an unknown (404), used or expired (410)
// vendor link.
func (s *Server) linkGone(w http.ResponseWriter, r *http.Request, err error) {
	ae := apperr.From(err)
	if ae.Code == apperr.Internal {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "assess.link.title")
	pg.Error = ae
	status := http.StatusNotFound
	if assess.LinkGone(err) {
		status = http.StatusGone
	}
	s.render(w, r, status, "assess_link_error", pg)
}

func (s *Server) assessLinkForm(w http.ResponseWriter, r *http.Request) {
	s.renderAssessLink(w, r, nil, nil)
}

func (s *Server) renderAssessLink(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	w.Header().Set("Referrer-Policy", "no-referrer")
	req, err := assess.RequestByLink(ctx, s.DB, r.PathValue("token"), s.Now())
	if err != nil {
		s.linkGone(w, r, err)
		return
	}
	e, err := assessRegistry().Get(ctx, s.DB, req.OrgID, req.EditionID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := assessLinkView{Request: req, Edition: e, FYStart: assess.FYStart(req.FiscalYear), FYEnd: assess.FYEnd(req.FiscalYear), Today: assess.Today(s.Now())}
	pg := s.newPage(w, r, "assess.link.title")
	pg.Title = e.Title
	pg.Form = withForm(url.Values{}, submitted)
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
		if ae := apperr.From(prevErr); ae != nil {
			if ps, ok := ae.Err.(assess.Problems); ok {
				for _, p := range ps {
					v.Problems = append(v.Problems, s.Catalog.T(state(r).lang, p.Key, p.Args...))
				}
			}
		}
	}
	pg.Data = v
	s.render(w, r, status, "assess_vendor_form", pg)
}

func (s *Server) assessLinkSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	req, err := assess.RequestByLink(ctx, s.DB, token, s.Now())
	if err != nil {
		s.linkGone(w, r, err)
		return
	}
	e, err := assessRegistry().Get(ctx, s.DB, req.OrgID, req.EditionID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	f := r.PostForm
	var in []assess.Answer
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			k := it.ID + "." + c
			in = append(in, assess.Answer{ItemID: it.ID, Cell: c, Answer1: f.Get("answer1." + k), Date1: f.Get("date1." + k),
				Target: f.Get("target." + k), Value: f.Get("value." + k), Comment: f.Get("comment." + k)})
		}
	}
	signer := f.Get("signer")
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		got, err := assess.AnswerByLink(ctx, tx, assessRegistry(), token, signer, in, s.Now())
		if err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{OrgID: got.OrgID, Actor: "vendor-link:" + got.VendorEmail, Action: "assess.vendor.answer",
			ObjectType: "assess_vendor_request", ObjectID: got.ID, Details: map[string]any{"vendor": got.VendorName, "signer": strings.TrimSpace(signer), "sheet": got.SheetID}})
	})
	if err != nil {
		if assess.LinkGone(err) || apperr.From(err).Key == assess.ErrLinkInvalid.Key {
			s.linkGone(w, r, err)
			return
		}
		s.renderAssessLink(w, r, err, f)
		return
	}
	pg := s.newPage(w, r, "assess.link.thanks_title")
	pg.Data = req
	s.render(w, r, http.StatusOK, "assess_vendor_done", pg)
}
