package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
)

type assessVendorRow struct {
	R       *assess.VendorRequest
	State   string
	Edition string
}

type assessVendorsView struct {
	assessHelpers
	Requests   []assessVendorRow
	Candidates []assess.VendorCandidate
	Editions   []option
	Years      []int
	FY         int
	Today      string
}

func (s *Server) renderAssessVendors(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	reg := s.assessRegistry()
	pg := s.newPage(w, r, "assess.vendors.title")
	v := assessVendorsView{FY: assess.FiscalYearOf(s.Now()), Today: assess.Today(s.Now())}
	v.Years = []int{v.FY + 1, v.FY, v.FY - 1}
	rs, err := assess.ListVendorRequests(ctx, s.DB, p.OrgID, 0)
	if err != nil {
		return err
	}
	for _, x := range rs {
		row := assessVendorRow{R: x, State: x.State(v.Today), Edition: x.EditionID}
		if e, err := reg.Get(ctx, s.DB, p.OrgID, x.EditionID); err == nil {
			row.Edition = e.Title + " " + e.Version
		}
		v.Requests = append(v.Requests, row)
	}
	if v.Candidates, err = assess.VendorCandidates(ctx, s.DB, p.OrgID); err != nil {
		return err
	}
	es, err := reg.List(ctx, s.DB, p.OrgID)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Kind == assess.KindVendor {
			v.Editions = append(v.Editions, editionOption(pg, e, false))
		}
	}
	pg.Data = v
	pg.Form = withForm(url.Values{}, submitted)
	return s.renderForm(w, r, "assess_vendors", pg, prevErr)
}

func (s *Server) assessVendorRequest(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	f := r.PostForm
	fy, _ := strconv.Atoi(f.Get("year"))
	vendors := f["vendor"]
	var err error
	if len(vendors) == 0 {
		err = apperr.Field("vendor", "assess.vendors.choose")
	} else if _, e2 := s.assessRegistry().Get(ctx, s.DB, m.P.OrgID, f.Get("edition")); e2 != nil {
		err = apperr.Field("edition", "assess.vendor.edition")
	}
	if err == nil {
		var ins []assess.VendorRequestInput
		for _, vid := range vendors {
			ins = append(ins, assess.VendorRequestInput{VendorID: vid, EditionID: f.Get("edition"), FiscalYear: fy, DueOn: f.Get("due_on"), Email: f.Get("email." + vid)})
		}
		_, err = s.Assess.RequestVendors(ctx, m.P, m.P.OrgID, ins...)
	}
	if err != nil {
		if rf := assessRefusal(m, err); rf != nil {
			return rf
		}
		var ve *assess.VendorRequestError
		if errors.As(err, &ve) {
			err = s.vendorErr(r, s.DB, m.P.OrgID, ve.VendorID, ve.Err)
		}
		return s.renderAssessVendors(w, r, err, f)
	}
	s.flash(w, r, "/assess/vendors", "flash.assess_vendor_requested")
	return nil
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

func (s *Server) assessVendorRemind(w http.ResponseWriter, r *http.Request, m *member) error {
	_, err := s.Assess.RemindVendor(r.Context(), m.P, m.P.OrgID, r.PathValue("id"))
	return s.assessDone(w, r, m, err, s.renderAssessVendors, nil, "/assess/vendors", "flash.assess_vendor_reminded")
}

func (s *Server) assessVendorFile(w http.ResponseWriter, r *http.Request, m *member) error {
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
				return s.renderAssessVendors(w, r, err, nil)
			}
			name = fhs[0].Filename
		}
	}
	_, err := s.Assess.AttachVendorFile(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), name, data)
	return s.assessDone(w, r, m, err, s.renderAssessVendors, nil, "/assess/vendors", "flash.assess_vendor_file")
}

func (s *Server) assessVendorFileGet(w http.ResponseWriter, r *http.Request, m *member) error {
	f, data, err := s.Assess.VendorFile(r.Context(), m.P, m.P.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return sendFile(w, f.ContentType, "attachment; filename*=UTF-8''"+url.PathEscape(f.Name), data)
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

func (s *Server) assessInbox(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderAssessInbox(w, r, nil)
}

func (s *Server) renderAssessInbox(w http.ResponseWriter, r *http.Request, prevErr error) error {
	ctx := r.Context()
	p := state(r).p
	reg := s.assessRegistry()
	rs, err := assess.VendorInbox(ctx, s.DB, p.OrgID)
	if err != nil {
		return err
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
		return err
	}
	for _, sh := range own {
		e, err := reg.Get(ctx, s.DB, p.OrgID, sh.EditionID)
		if err != nil || e.Kind != assess.KindVendor {
			continue
		}
		full, err := assess.GetSheet(ctx, s.DB, p.OrgID, sh.ID)
		if err != nil {
			return err
		}
		v.Own[sh.EditionID+"/"+strconv.Itoa(sh.FiscalYear)] = full.Progress(e)
	}
	pg := s.newPage(w, r, "assess.inbox.title")
	pg.Data = v
	return s.renderForm(w, r, "assess_inbox", pg, prevErr)
}

func (s *Server) assessInboxAnswer(w http.ResponseWriter, r *http.Request, m *member) error {
	if _, err := s.Assess.AnswerFromOwnSheet(r.Context(), m.P, m.P.OrgID, r.PathValue("id")); err != nil {
		if rf := assessRefusal(m, err); rf != nil || apperr.Is(err, apperr.NotFound) {
			return assessFail(m, err)
		}
		return s.renderAssessInbox(w, r, err)
	}
	s.flash(w, r, assess.InboxPath, "flash.assess_vendor_answered")
	return nil
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
	e, err := s.assessRegistry().Get(ctx, s.DB, req.OrgID, req.EditionID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := assessLinkView{Request: req, Edition: e, FYStart: assess.FYStart(req.FiscalYear), FYEnd: assess.FYEnd(req.FiscalYear), Today: assess.Today(s.Now())}
	pg := s.newPage(w, r, "assess.link.title")
	pg.Title = e.Title
	pg.Form = withForm(url.Values{}, submitted)
	v.Problems = append(v.Problems, s.problemTexts(state(r).lang, prevErr)...)
	pg.Data = v
	s.renderForm(w, r, "assess_vendor_form", pg, prevErr)
}

func (s *Server) assessLinkSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	req, err := assess.RequestByLink(ctx, s.DB, token, s.Now())
	if err != nil {
		s.linkGone(w, r, err)
		return
	}
	e, err := s.assessRegistry().Get(ctx, s.DB, req.OrgID, req.EditionID)
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
	_, err = s.Assess.AnswerByLink(ctx, token, f.Get("signer"), in, clientIP(r), r.UserAgent())
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
