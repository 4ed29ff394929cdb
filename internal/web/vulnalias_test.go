package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

func TestVulnAliasPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		oper := e.signedIn(e.oper, e.isac)
		r := oper.get("/vuln/aliases")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "「ヤマハ」「RTX830」")
		wantContains(t, r, `id="vulnalias-add-vendor"`)
		wantContains(t, r, "フォーティネット")
		// Members never see the table.
		wantStatus(t, e.signedIn(e.admin, e.hosp).get("/vuln/aliases"), http.StatusNotFound)
		wantStatus(t, e.signedIn(e.admin, e.hosp).post("/vuln/aliases/vendor", url.Values{"spelling": {"x"}, "cpe": {"x"}}), http.StatusNotFound)

		r = oper.post("/vuln/aliases/vendor", url.Values{"spelling": {"ふぉーちねっと"}, "cpe": {"fortinet"}, "note": {"院内の書き方"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = oper.get("/vuln/aliases")
		wantContains(t, r, "ふぉーちねっと")
		wantContains(t, r, "院内の書き方")
		if e.auditCount(e.isac.ID, "vuln.aliases.change") != 1 {
			t.Error("change not audited")
		}
		h, err := vuln.AliasHistory(bg, d, 0)
		if err != nil || len(h) != 1 || h[0].CreatedBy != "ops@isac.example.jp" {
			t.Fatalf("history: %+v %v", h, err)
		}
		// A product alias; a form made from an older table is refused.
		r = oper.post("/vuln/aliases/product", url.Values{"vendor": {"yamaha"}, "names": {"SWX, SWR"}, "identities": {"cpe:2.3:o:yamaha:{model}_firmware:{version}\ncpe:2.3:h:yamaha:{model}:-"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = oper.post("/vuln/aliases/remove", url.Values{"kind": {"vendor"}, "index": {"0"}, "version": {h[0].Version}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r, "ほかの人によって変更された")
		// A bad template is refused with the entry named; nothing changes.
		r = oper.post("/vuln/aliases/product", url.Values{"vendor": {"yamaha"}, "names": {"SWP"}, "identities": {"yamaha swp"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r, "yamaha swp")
		r = oper.upload("/vuln/aliases/upload", "aliases.json", []byte(`{"vendors":[{"cpe":"","names":["謎"]}],"products":[]}`), nil)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r, "謎")
		if h, _ := vuln.AliasHistory(bg, d, 0); len(h) != 2 {
			t.Fatalf("versions after refused changes: %d", len(h))
		}
		dl := oper.get("/vuln/aliases/download")
		wantStatus(t, dl, http.StatusOK)
		if !strings.Contains(dl.body, "SWX") || !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %.200s", dl.body)
		}
		wantStatus(t, oper.get("/vuln/aliases/versions/"+db.NewID()), http.StatusNotFound)
		// Upload the downloaded file unchanged: nothing to do.
		wantStatus(t, oper.upload("/vuln/aliases/upload", "aliases.json", []byte(dl.body), nil), http.StatusSeeOther)
		// Reset to the shipped table, then restore the first version.
		wantStatus(t, oper.post("/vuln/aliases/reset", nil), http.StatusSeeOther)
		if strings.Contains(aliasTables(oper.get("/vuln/aliases").body), "ふぉーちねっと") {
			t.Error("reset kept the added spelling")
		}
		wantStatus(t, oper.post("/vuln/aliases/restore", url.Values{"id": {h[0].ID}}), http.StatusSeeOther)
		tables := aliasTables(oper.get("/vuln/aliases").body)
		if !strings.Contains(tables, "ふぉーちねっと") || strings.Contains(tables, "SWX") {
			t.Error("restored the wrong version")
		}
		if h, _ := vuln.AliasHistory(bg, d, 0); len(h) != 4 || h[0].Action != vuln.AliasRestore || h[1].Action != vuln.AliasReset {
			t.Errorf("history: %+v", h)
		}
		if e.auditCount(e.isac.ID, "vuln.aliases.change") != 4 {
			t.Error("changes not audited")
		}
	})
}

// aliasTables returns the vendor and product tables of the page (not the
// history, whose notes name the changes, nor the forms' hints).
func aliasTables(body string) string {
	var out string
	for _, id := range []string{`id="vulnalias-vendors"`, `id="vulnalias-products"`} {
		i := strings.Index(body, id)
		if i < 0 {
			continue
		}
		j := strings.Index(body[i:], "</table>")
		out += body[i : i+j]
	}
	return out
}

// TestVulnAliasRename: an operator adds a product rename through the
// form; bad or repeated names are refused with the field named and
// change nothing; members cannot reach the form's route.
func TestVulnAliasRename(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		oper := e.signedIn(e.oper, e.isac)
		page := oper.get("/vuln/aliases")
		wantContains(t, page, `id="vulnalias-add-rename"`)
		wantStatus(t, e.signedIn(e.admin, e.hosp).post("/vuln/aliases/rename", url.Values{"from": {"acme:old"}, "to": {"acme:new"}}), http.StatusNotFound)
		for _, bad := range []url.Values{
			{"from": {"Pulse Secure"}, "to": {"ivanti:connect_secure"}},
			{"from": {"pulsesecure:pulse_connect_secure"}, "to": {"ivanti"}},
			{"from": {"ivanti:connect_secure"}, "to": {"IVANTI:connect_secure"}},
		} {
			r := oper.post("/vuln/aliases/rename", bad)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantContains(t, r, `class="field-error"`)
		}
		if h, _ := vuln.AliasHistory(bg, d, 0); len(h) != 0 {
			t.Fatalf("refused renames stored %d versions", len(h))
		}
		before := len(e.aliases(t, oper).Renames)
		r := oper.post("/vuln/aliases/rename", url.Values{"from": {" PulseSecure:Pulse_Connect_Secure "}, "to": {"ivanti:connect_secure_x"}, "note": {"買収"}})
		wantStatus(t, r, http.StatusSeeOther)
		f := e.aliases(t, oper)
		if len(f.Renames) != before+1 || f.Renames[len(f.Renames)-1] != (match.RenameAlias{From: "pulsesecure:pulse_connect_secure", To: "ivanti:connect_secure_x"}) {
			t.Fatalf("renames after adding: %+v", f.Renames)
		}
		wantContains(t, oper.get("/vuln/aliases"), "ivanti:connect_secure_x")
		r = oper.post("/vuln/aliases/rename", url.Values{"from": {"pulsesecure:pulse_connect_secure"}, "to": {"ivanti:connect_secure_x"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r, "既に表にあります")
		if h, _ := vuln.AliasHistory(bg, d, 0); len(h) != 1 || h[0].Note != "買収" {
			t.Fatalf("history: %+v", h)
		}
		if e.auditCount(e.isac.ID, "vuln.aliases.change") != 1 {
			t.Error("rename not audited")
		}
	})
}

// aliases returns the table in force, as downloaded.
func (e *env) aliases(t *testing.T, c *client) match.AliasFile {
	t.Helper()
	dl := c.get("/vuln/aliases/download")
	wantStatus(t, dl, http.StatusOK)
	al, err := match.LoadAliases(strings.NewReader(dl.body), version.Default())
	if err != nil {
		t.Fatal(err)
	}
	return al.File()
}
