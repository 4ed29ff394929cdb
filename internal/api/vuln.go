package api

import (
	"context"
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
	return orgRead(a, w, r, c, func(ctx context.Context, orgID string) (vuln.Finding, error) {
		return vuln.GetFinding(ctx, a.DB, orgID, r.PathValue("rec"))
	})
}

// findFinding is the check of recordWrite that a finding exists.
func (a *API) findFinding(ctx context.Context, orgID, id string) error {
	_, err := vuln.GetFinding(ctx, a.DB, orgID, id)
	return err
}

func (a *API) vulnRemediate(w http.ResponseWriter, r *http.Request, c *call) error {
	return recordWrite(a, w, r, c, "vuln.finding.state", a.findFinding,
		func(ctx context.Context, orgID, id string, in vuln.Remediation) (vuln.Finding, error) {
			return a.Vuln.SetFindingState(ctx, c.p, orgID, id, in)
		})
}

func (a *API) vulnSummary(w http.ResponseWriter, r *http.Request, c *call) error {
	return orgRead(a, w, r, c, func(ctx context.Context, orgID string) (vuln.Summary, error) {
		return vuln.Summarise(ctx, a.DB, orgID)
	})
}

type notificationList struct {
	Notifications []vuln.Notification `json:"notifications"`
}

func (a *API) vulnNotifications(w http.ResponseWriter, r *http.Request, c *call) error {
	return orgRead(a, w, r, c, func(ctx context.Context, orgID string) (notificationList, error) {
		ns, err := vuln.ListNotifications(ctx, a.DB, orgID, 50)
		return notificationList{nonNil(ns)}, err
	})
}

// vulnIdentity returns an asset's identity, deriving it when not yet done.
func (a *API) vulnIdentity(ctx context.Context, orgID, assetID string) (vuln.AssetIdentity, error) {
	if _, err := inventory.GetAsset(ctx, a.DB, orgID, assetID); err != nil {
		return vuln.AssetIdentity{}, err
	}
	return a.Vuln.Identity(ctx, orgID, assetID)
}

func (a *API) vulnGetIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	return orgRead(a, w, r, c, func(ctx context.Context, orgID string) (vuln.AssetIdentity, error) {
		return a.vulnIdentity(ctx, orgID, r.PathValue("rec"))
	})
}

// identityInput is the body of PUT …/identity: the CPE names to use, or an
// empty list to go back to the derived candidates.
type identityInput struct {
	CPE []string `json:"cpe"`
}

func (a *API) vulnSetIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	find := func(ctx context.Context, orgID, id string) error {
		_, err := a.vulnIdentity(ctx, orgID, id)
		return err
	}
	return recordWrite(a, w, r, c, "vuln.identity.set", find,
		func(ctx context.Context, orgID, id string, in identityInput) (vuln.AssetIdentity, error) {
			return a.Vuln.SetAssetIdentity(ctx, c.p, orgID, id, in.CPE, false)
		})
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
	a.reply(w, http.StatusOK, vulnList{Vulnerabilities: nonNil(page.Vulns), NextCursor: page.Next})
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
