package assess

import (
	"context"
	"database/sql"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// VendorLinkTTL is how long a vendor's answer link works.
const VendorLinkTTL = 30 * 24 * time.Hour

// VendorReminderEvery is the least time between two reminders of one
// request.
const VendorReminderEvery = 7 * 24 * time.Hour

// States of a vendor request as shown to people.
const (
	VendorRequested = "requested"
	VendorAnswered  = "answered"
	VendorOverdue   = "overdue"
)

// VendorRequest is an institution's request for a 事業者確認用 sheet from one
// vendor of its systems. A vendor with a medisac organisation (VendorOrgID)
// answers there; any other vendor answers through a single-use link sent by
// e-mail, or the institution uploads the vendor's own PDF (FileID).
type VendorRequest struct {
	ID          string     `json:"id"`
	OrgID       string     `json:"org_id"`
	VendorID    string     `json:"vendor_id"`
	VendorName  string     `json:"vendor_name"`
	VendorEmail string     `json:"vendor_email,omitempty"`
	VendorOrgID string     `json:"vendor_org_id,omitempty"`
	EditionID   string     `json:"edition_id"`
	FiscalYear  int        `json:"fiscal_year"`
	DueOn       string     `json:"due_on,omitempty"`
	Status      string     `json:"status"`
	LinkExpires *time.Time `json:"link_expires_at,omitempty"`
	SheetID     string     `json:"sheet_id,omitempty"`
	FileID      string     `json:"file_id,omitempty"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	RemindedAt  *time.Time `json:"reminded_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	// CustomerName is the requesting institution's name; it is filled for
	// the vendor's own view of its requests.
	CustomerName string `json:"customer_name,omitempty"`
}

// State is "answered", "overdue" (due date passed without an answer) or
// "requested", given today's date.
func (r *VendorRequest) State(today string) string {
	switch {
	case r.Status == VendorAnswered:
		return VendorAnswered
	case r.DueOn != "" && r.DueOn < today:
		return VendorOverdue
	}
	return VendorRequested
}

// ByLink reports whether the vendor answers through an e-mailed link.
func (r *VendorRequest) ByLink() bool { return r.VendorOrgID == "" }

const vendorCols = `r.id, r.org_id, r.vendor_id, r.vendor_name, r.vendor_email, r.vendor_org_id, r.edition_id, r.fiscal_year, r.due_on, r.status,
	r.token_expires_at, r.sheet_id, r.file_id, r.answered_at, r.reminded_at, r.created_at`

func scanVendorRequest(row interface{ Scan(...any) error }, extra ...any) (*VendorRequest, error) {
	var v VendorRequest
	var exp, ans, rem sql.NullTime
	dst := append([]any{&v.ID, &v.OrgID, &v.VendorID, &v.VendorName, &v.VendorEmail, &v.VendorOrgID, &v.EditionID, &v.FiscalYear, &v.DueOn, &v.Status,
		&exp, &v.SheetID, &v.FileID, &ans, &rem, &v.CreatedAt}, extra...)
	if err := row.Scan(dst...); err != nil {
		return nil, db.ScanErr(err)
	}
	for _, p := range []struct {
		n   sql.NullTime
		dst **time.Time
	}{{exp, &v.LinkExpires}, {ans, &v.AnsweredAt}, {rem, &v.RemindedAt}} {
		if p.n.Valid {
			t := p.n.Time
			*p.dst = &t
		}
	}
	return &v, nil
}

// VendorCandidate is a vendor of the inventory with the systems it
// supplies.
type VendorCandidate struct {
	Vendor  inventory.Vendor `json:"vendor"`
	Systems []string         `json:"systems"`
}

// VendorCandidates lists the vendors of orgID's inventory that supply at
// least one of its systems, with the systems' names, by vendor name.
func VendorCandidates(ctx context.Context, q db.Querier, orgID string) ([]VendorCandidate, error) {
	vs, err := inventory.ListVendors(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	ss, err := inventory.ListSystems(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	by := map[string][]string{}
	for _, s := range ss {
		if s.VendorID != "" {
			by[s.VendorID] = append(by[s.VendorID], s.Name)
		}
	}
	var out []VendorCandidate
	for _, v := range vs {
		if len(by[v.ID]) > 0 {
			sort.Strings(by[v.ID])
			out = append(out, VendorCandidate{Vendor: v, Systems: by[v.ID]})
		}
	}
	return out, nil
}

// VendorRequestInput is a new request. Email, when empty, is the vendor
// record's address.
type VendorRequestInput struct {
	VendorID   string `json:"vendor_id"`
	EditionID  string `json:"edition_id"`
	FiscalYear int    `json:"fiscal_year"`
	DueOn      string `json:"due_on"`
	Email      string `json:"email"`
}

// RequestVendorSheet records orgID's request to one inventory vendor for a
// vendor-kind edition and fiscal year. For a vendor without a medisac
// organisation it returns the raw link token (only its hash is stored) for
// the caller to send; the token is "" otherwise. A second open request to
// the same vendor for the same edition and year is a Conflict.
func RequestVendorSheet(ctx context.Context, q db.Querier, reg *Registry, orgID, actorID string, in VendorRequestInput, now time.Time) (*VendorRequest, string, error) {
	v, err := inventory.GetVendor(ctx, q, orgID, in.VendorID)
	if apperr.Is(err, apperr.NotFound) {
		return nil, "", apperr.Field("vendor_id", "assess.vendor.unknown_vendor")
	}
	if err != nil {
		return nil, "", err
	}
	e, err := reg.Get(ctx, q, orgID, in.EditionID)
	if err != nil || e.Kind != KindVendor {
		return nil, "", apperr.Field("edition_id", "assess.vendor.edition")
	}
	if in.FiscalYear < 2000 || in.FiscalYear > 2100 {
		return nil, "", apperr.Field("fiscal_year", "assess.sheet.fy_invalid")
	}
	in.DueOn = normalizeDate(strings.TrimSpace(in.DueOn))
	if in.DueOn != "" {
		if _, ok := ParseDate(in.DueOn); !ok {
			return nil, "", apperr.Field("due_on", "assess.vendor.due_invalid")
		}
		if in.DueOn < Today(now) {
			return nil, "", apperr.Field("due_on", "assess.vendor.due_past")
		}
	}
	email := strings.TrimSpace(in.Email)
	if email == "" {
		email = strings.TrimSpace(v.Email)
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, "\r\n") {
			return nil, "", apperr.Field("email", "assess.vendor.email_invalid")
		} else {
			email = a.Address
		}
	}
	vendorOrg := strings.TrimSpace(v.MedisacOrgID)
	if vendorOrg == orgID {
		vendorOrg = ""
	}
	if vendorOrg == "" && email == "" {
		return nil, "", apperr.Field("email", "assess.vendor.email_needed")
	}
	var one int
	err = db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM assess_vendor_requests WHERE org_id = ? AND vendor_id = ? AND edition_id = ? AND fiscal_year = ? AND status = 'requested'`,
		orgID, v.ID, e.ID, in.FiscalYear).Scan(&one))
	if err == nil {
		return nil, "", apperr.New(apperr.Conflict, "assess.vendor.duplicate", v.Name)
	}
	if !apperr.Is(err, apperr.NotFound) {
		return nil, "", err
	}
	id := db.NewID()
	var token string
	var hash, expires any
	if vendorOrg == "" {
		token = auth.RandomToken(32)
		hash, expires = auth.HashToken(token), now.Add(VendorLinkTTL)
	}
	_, err = q.Exec(ctx, `INSERT INTO assess_vendor_requests (id, org_id, vendor_id, vendor_name, vendor_email, vendor_org_id, edition_id, fiscal_year,
		due_on, status, token_hash, token_expires_at, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?, ?, ?, ?)`,
		id, orgID, v.ID, v.Name, email, vendorOrg, e.ID, in.FiscalYear, in.DueOn, hash, expires, actorID, now, now)
	if err != nil {
		return nil, "", err
	}
	r, err := GetVendorRequest(ctx, q, orgID, id)
	return r, token, err
}

// GetVendorRequest returns a request of orgID (the institution).
func GetVendorRequest(ctx context.Context, q db.Querier, orgID, id string) (*VendorRequest, error) {
	return scanVendorRequest(q.QueryRow(ctx, `SELECT `+vendorCols+` FROM assess_vendor_requests r WHERE r.id = ? AND r.org_id = ?`, id, orgID))
}

// ListVendorRequests lists orgID's requests, of one fiscal year when fy is
// not 0, by vendor name.
func ListVendorRequests(ctx context.Context, q db.Querier, orgID string, fy int) ([]*VendorRequest, error) {
	page, err := ListVendorRequestsPage(ctx, q, orgID, fy, auth.All)
	return page.Requests, err
}

func listVendorRequests(ctx context.Context, q db.Querier, query string, args ...any) ([]*VendorRequest, error) {
	return db.QueryAll(ctx, q, scanCustomerRequest, query, args...)
}

// VendorInbox lists the requests addressed to the medisac organisation
// vendorOrgID, with each customer's name, newest first.
func VendorInbox(ctx context.Context, q db.Querier, vendorOrgID string) ([]*VendorRequest, error) {
	rs, _, err := VendorInboxPage(ctx, q, vendorOrgID, auth.All)
	return rs, err
}

// InboxRequest returns one request addressed to vendorOrgID, with the
// customer's name.
func InboxRequest(ctx context.Context, q db.Querier, vendorOrgID, id string) (*VendorRequest, error) {
	return scanCustomerRequest(q.QueryRow(ctx, `SELECT `+vendorCols+`, o.name FROM assess_vendor_requests r JOIN organizations o ON o.id = r.org_id
		WHERE r.id = ? AND r.vendor_org_id = ?`, id, vendorOrgID))
}

// answerRequest copies answers into a read-only sheet of the requesting
// institution (subject "vendor:<request id>") and marks the request
// answered. The copy is signed with the vendor's name, so the institution
// cannot change it.
func answerRequest(ctx context.Context, q db.Querier, e *Edition, r *VendorRequest, actorID, signer string, answers []Answer, now time.Time) (*Sheet, error) {
	sh, err := StartSheet(ctx, q, e, r.OrgID, r.FiscalYear, "vendor:"+r.ID, now)
	if err != nil {
		return nil, err
	}
	if sh, err = SaveAnswers(ctx, q, e, r.OrgID, sh.ID, actorID, answers, now); err != nil {
		return nil, err
	}
	if p := sh.Progress(e); !p.Complete() {
		return nil, apperr.New(apperr.Invalid, "assess.vendor.incomplete", p.Cells-p.Answered)
	}
	if _, err := q.Exec(ctx, `UPDATE assess_sheets SET signed_by = ?, signed_name = ?, signed_at = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
		actorID, signer, now, now, sh.ID, r.OrgID); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `UPDATE assess_vendor_requests SET status = 'answered', sheet_id = ?, answered_at = ?, token_used_at = COALESCE(token_used_at, ?), updated_at = ?
		WHERE id = ? AND org_id = ?`, sh.ID, now, now, now, r.ID, r.OrgID); err != nil {
		return nil, err
	}
	return GetSheet(ctx, q, r.OrgID, sh.ID)
}

// AnswerFromVendorSheet answers a request addressed to vendorOrgID with a
// copy of the vendor's own sheet of the same edition and fiscal year, which
// must be complete. The vendor fills its sheet once and reuses it for every
// customer; each customer sees only the copy made for its request. It
// returns the customer's copy.
func AnswerFromVendorSheet(ctx context.Context, q db.Querier, reg *Registry, vendorOrgID, requestID, actorID, vendorName string, now time.Time) (*VendorRequest, error) {
	r, err := InboxRequest(ctx, q, vendorOrgID, requestID)
	if err != nil {
		return nil, err
	}
	if r.Status == VendorAnswered {
		return nil, apperr.New(apperr.Conflict, "assess.vendor.already_answered")
	}
	e, err := reg.Get(ctx, q, r.OrgID, r.EditionID)
	if err != nil {
		return nil, err
	}
	own, err := findSheet(ctx, q, vendorOrgID, e.ID, r.FiscalYear, "")
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.Invalid, "assess.vendor.no_own_sheet")
	}
	if err != nil {
		return nil, err
	}
	if own.Answers, err = loadAnswers(ctx, q, vendorOrgID, own.ID); err != nil {
		return nil, err
	}
	if p := own.Progress(e); !p.Complete() {
		return nil, apperr.New(apperr.Invalid, "assess.vendor.own_incomplete", p.Cells-p.Answered)
	}
	in := make([]Answer, 0, len(own.Answers))
	for _, a := range own.Answers {
		in = append(in, a)
	}
	if _, err := answerRequest(ctx, q, e, r, actorID, vendorName, in, now); err != nil {
		return nil, err
	}
	return InboxRequest(ctx, q, vendorOrgID, requestID)
}

// Link errors: an unknown link is not found; a used or expired one is gone
// (the web page answers 410).
var (
	ErrLinkInvalid = apperr.New(apperr.NotFound, "assess.vendor.link_invalid")
	ErrLinkUsed    = apperr.New(apperr.NotFound, "assess.vendor.link_used")
	ErrLinkExpired = apperr.New(apperr.NotFound, "assess.vendor.link_expired")
)

// LinkGone reports whether err is a used or expired vendor link.
func LinkGone(err error) bool {
	ae := apperr.From(err)
	return ae.Key == ErrLinkUsed.Key || ae.Key == ErrLinkExpired.Key
}

// RequestByLink returns the open request of a vendor's answer link, with
// the customer's name, or ErrLinkInvalid, ErrLinkUsed or ErrLinkExpired.
func RequestByLink(ctx context.Context, q db.Querier, token string, now time.Time) (*VendorRequest, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrLinkInvalid
	}
	var customer string
	var used sql.NullTime
	r, err := scanVendorRequest(q.QueryRow(ctx, `SELECT `+vendorCols+`, o.name, r.token_used_at FROM assess_vendor_requests r JOIN organizations o ON o.id = r.org_id
		WHERE r.token_hash = ?`, auth.HashToken(token)), &customer, &used)
	if apperr.Is(err, apperr.NotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	r.CustomerName = customer
	switch {
	case used.Valid || r.Status == VendorAnswered:
		return nil, ErrLinkUsed
	case r.LinkExpires == nil || !now.Before(*r.LinkExpires):
		return nil, ErrLinkExpired
	}
	return r, nil
}

// AnswerByLink stores a vendor's answers given through its link: every
// cell must be answered and valid, or nothing is saved. The link then
// stops working. signer is the name the vendor gave. Run it in a
// transaction: the link is claimed first, so of two submissions at once
// only one succeeds, and a refused one leaves the link usable.
func AnswerByLink(ctx context.Context, q db.Querier, reg *Registry, token, signer string, in []Answer, now time.Time) (*VendorRequest, error) {
	r, err := RequestByLink(ctx, q, token, now)
	if err != nil {
		return nil, err
	}
	res, err := q.Exec(ctx, `UPDATE assess_vendor_requests SET token_used_at = ? WHERE id = ? AND token_used_at IS NULL AND status = 'requested'`, now, r.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrLinkUsed
	}
	signer = strings.TrimSpace(signer)
	if signer == "" || len([]rune(signer)) > 100 {
		return nil, apperr.Field("signer", "assess.vendor.signer_needed")
	}
	e, err := reg.Get(ctx, q, r.OrgID, r.EditionID)
	if err != nil {
		return nil, err
	}
	if _, err := answerRequest(ctx, q, e, r, "", r.VendorName+" "+signer, in, now); err != nil {
		return nil, err
	}
	return GetVendorRequest(ctx, q, r.OrgID, r.ID)
}

// AttachVendorPDF records the vendor's own filled sheet, a PDF the
// institution received, as the answer to a request of orgID. Any open link
// stops working.
func AttachVendorPDF(ctx context.Context, q db.Querier, orgID, requestID, actorID, name string, data []byte, now time.Time) (*VendorRequest, error) {
	r, err := GetVendorRequest(ctx, q, orgID, requestID)
	if err != nil {
		return nil, err
	}
	ct, err := CheckFile(name, data)
	if err != nil {
		return nil, err
	}
	if ct != "application/pdf" {
		return nil, apperr.Field("file", "assess.vendor.pdf_only")
	}
	f, err := StoreFile(ctx, q, orgID, actorID, name, data, now)
	if err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `UPDATE assess_vendor_requests SET status = 'answered', file_id = ?, answered_at = COALESCE(answered_at, ?),
		token_used_at = COALESCE(token_used_at, ?), updated_at = ? WHERE id = ? AND org_id = ?`, f.ID, now, now, now, r.ID, orgID); err != nil {
		return nil, err
	}
	return GetVendorRequest(ctx, q, orgID, r.ID)
}

// RenewLink gives an open link request a fresh link (for a reminder),
// which ends the previous one, and returns the raw token. Requests answered
// in medisac get "".
func RenewLink(ctx context.Context, q db.Querier, orgID, requestID string, now time.Time) (string, error) {
	r, err := GetVendorRequest(ctx, q, orgID, requestID)
	if err != nil {
		return "", err
	}
	if r.Status == VendorAnswered {
		return "", apperr.New(apperr.Conflict, "assess.vendor.already_answered")
	}
	if !r.ByLink() {
		return "", nil
	}
	token := auth.RandomToken(32)
	_, err = q.Exec(ctx, `UPDATE assess_vendor_requests SET token_hash = ?, token_expires_at = ?, token_used_at = NULL, updated_at = ? WHERE id = ? AND org_id = ?`,
		auth.HashToken(token), now.Add(VendorLinkTTL), now, r.ID, orgID)
	return token, err
}

// MarkReminded records that a reminder went out for a request of orgID.
func MarkReminded(ctx context.Context, q db.Querier, orgID, requestID string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE assess_vendor_requests SET reminded_at = ?, updated_at = ? WHERE id = ? AND org_id = ?`, now, now, requestID, orgID)
	return err
}

// DueReminders lists, across all organisations, the open requests with an
// e-mail address whose due date is within a week or past and that were not
// reminded (or requested) in the last VendorReminderEvery. It is for the
// periodic reminder job only.
func DueReminders(ctx context.Context, q db.Querier, now time.Time, limit int) ([]*VendorRequest, error) {
	soon := Today(now.Add(7 * 24 * time.Hour))
	since := now.Add(-VendorReminderEvery)
	return listVendorRequests(ctx, q, `SELECT `+vendorCols+`, o.name FROM assess_vendor_requests r JOIN organizations o ON o.id = r.org_id
		WHERE r.status = 'requested' AND r.vendor_email <> '' AND r.due_on <> '' AND r.due_on <= ?
		AND r.created_at < ? AND (r.reminded_at IS NULL OR r.reminded_at < ?)
		ORDER BY r.due_on, r.id LIMIT ?`, soon, since, since, limit)
}
