package api

import (
	"net/http"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
)

// The vulnerability API: findings, remediation and device identities of
// the organisation in the path (its members only, like the inventory), the
// shared vulnerability data, and the ISAC counts for operators.

const vulnBase = "/api/v1/orgs/{id}/vuln"

// vulnRoutes are the vulnerability entries of the route table.
func (a *API) vulnRoutes() []route {
	return []route{
		{"GET", vulnBase + "/findings", true, false, a.vulnListFindings},
		{"GET", vulnBase + "/findings/{rec}", true, false, a.vulnGetFinding},
		{"PATCH", vulnBase + "/findings/{rec}", true, true, a.vulnRemediate},
		{"GET", vulnBase + "/summary", true, false, a.vulnSummary},
		{"GET", vulnBase + "/notifications", true, false, a.vulnNotifications},
		{"GET", vulnBase + "/assets/{rec}/identity", true, false, a.vulnGetIdentity},
		{"PUT", vulnBase + "/assets/{rec}/identity", true, true, a.vulnSetIdentity},
		{"GET", "/api/v1/vulns", true, false, a.vulnSearch},
		{"GET", "/api/v1/vulns/{vuln}", true, false, a.vulnGet},
		{"GET", "/api/v1/vulns/{vuln}/isac", true, false, a.vulnISAC},
	}
}

// findingList is one page of findings: next_cursor (absent on the last
// page) asks for the following one, with the same filter.
type findingList struct {
	Findings   []vuln.Finding `json:"findings"`
	Total      int            `json:"total"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (a *API) vulnListFindings(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := vuln.FindingFilter{All: q.Get("all") == "1" || q.Get("all") == "true", AssetID: q.Get("asset_id"), VulnID: q.Get("vuln_id")}
	if p := q.Get("priority"); p != "" {
		if f.Priority, err = strconv.Atoi(p); err != nil || f.Priority < 1 || f.Priority > 4 {
			return apperr.Field("priority", "vuln.api.priority")
		}
	}
	size := vuln.DefaultFindingPage
	if l := q.Get("limit"); l != "" {
		if size, err = strconv.Atoi(l); err != nil || size < 1 || size > vuln.MaxFindingPage {
			return apperr.Field("limit", "vulnpage.limit.invalid", vuln.MaxFindingPage)
		}
	}
	page, err := vuln.PageFindings(r.Context(), a.DB, orgID, f, q.Get("cursor"), size)
	return a.send(w, http.StatusOK, findingList{Findings: page.Findings, Total: page.Total, NextCursor: page.Next}, err)
}

func (a *API) vulnGetFinding(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	f, err := vuln.GetFinding(r.Context(), a.DB, orgID, r.PathValue("rec"))
	return a.send(w, http.StatusOK, f, err)
}

func (a *API) vulnRemediate(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "vuln.finding.state")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := vuln.GetFinding(ctx, a.DB, orgID, id); err != nil {
		return err
	}
	in, err := readJSON[vuln.Remediation](r)
	if err != nil {
		return err
	}
	after, err := a.Vuln.SetFindingState(ctx, c.p, orgID, id, in)
	return a.send(w, http.StatusOK, after, err)
}

func (a *API) vulnSummary(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	s, err := vuln.Summarise(r.Context(), a.DB, orgID)
	return a.send(w, http.StatusOK, s, err)
}

type notificationList struct {
	Notifications []vuln.Notification `json:"notifications"`
}

func (a *API) vulnNotifications(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	ns, err := vuln.ListNotifications(r.Context(), a.DB, orgID, 50)
	return a.send(w, http.StatusOK, notificationList{nonNil(ns)}, err)
}

// vulnIdentity returns an asset's identity, deriving it when not yet done.
func (a *API) vulnIdentity(r *http.Request, orgID, assetID string) (vuln.AssetIdentity, error) {
	ctx := r.Context()
	if _, err := inventory.GetAsset(ctx, a.DB, orgID, assetID); err != nil {
		return vuln.AssetIdentity{}, err
	}
	return a.Vuln.Identity(ctx, orgID, assetID)
}

func (a *API) vulnGetIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	idn, err := a.vulnIdentity(r, orgID, r.PathValue("rec"))
	return a.send(w, http.StatusOK, idn, err)
}

// identityInput is the body of PUT …/identity: the CPE names to use, or an
// empty list to go back to the derived candidates.
type identityInput struct {
	CPE []string `json:"cpe"`
}

func (a *API) vulnSetIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, "vuln.identity.set")
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if _, err := a.vulnIdentity(r, orgID, id); err != nil {
		return err
	}
	in, err := readJSON[identityInput](r)
	if err != nil {
		return err
	}
	idn, err := a.Vuln.SetAssetIdentity(ctx, c.p, orgID, id, in.CPE, false)
	return a.send(w, http.StatusOK, idn, err)
}

type vulnList struct {
	Vulnerabilities []vuln.Vuln `json:"vulnerabilities"`
	// NextCursor reads the following page; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (a *API) vulnSearch(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := vuln.VulnFilter{Query: q.Get("q"), KEV: q.Get("kev") == "1" || q.Get("kev") == "true"}
	var err error
	if l := q.Get("limit"); l != "" {
		// As before: a limit outside 1–200 gives the default page of 50.
		f.Limit, _ = strconv.Atoi(l)
	}
	if o := q.Get("offset"); o != "" {
		if f.Offset, err = strconv.Atoi(o); err != nil || f.Offset < 0 {
			return apperr.Field("offset", "vuln.api.bad_offset")
		}
	}
	page, err := a.Vuln.PageVulns(r.Context(), f, q.Get("cursor"))
	if err != nil {
		return err
	}
	vs := page.Vulns
	if vs == nil {
		vs = []vuln.Vuln{}
	}
	a.reply(w, http.StatusOK, vulnList{Vulnerabilities: vs, NextCursor: page.Next})
	return nil
}

func (a *API) vulnGet(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := vuln.GetVuln(r.Context(), a.DB, r.PathValue("vuln"))
	return a.send(w, http.StatusOK, v, err)
}

func (a *API) vulnISAC(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.p.IsOperator() {
		return apperr.New(apperr.Forbidden, "vuln.api.operators_only")
	}
	v, err := vuln.GetVuln(r.Context(), a.DB, r.PathValue("vuln"))
	if err != nil {
		return err
	}
	st, err := vuln.VulnStats(r.Context(), a.DB, v.ID)
	return a.send(w, http.StatusOK, st, err)
}
