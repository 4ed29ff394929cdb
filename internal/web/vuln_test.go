package web

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
)

func TestVulnPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		w := &vuln.Watch{DB: d, Now: e.clock.Now, Audit: e.audit, Catalog: catalog}
		fw, err := inventory.CreateAsset(bg, d, e.hosp.ID, "", inventory.Asset{Name: "正面玄関FW", Kind: inventory.KindNetwork, Vendor: "Fortinet",
			Product: "FortiGate", Model: "FG-60F", Version: "7.2.2", Location: "本館1階", Maintainer: "○○保守"}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.MatchAll(bg); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"nvd/CVE-2022-42475.json", "kev/kev_trimmed.json"} {
			if _, err := w.ImportFile(bg, "../vuln/testdata/"+f); err != nil {
				t.Fatal(err)
			}
		}
		admin := e.signedIn(e.admin, e.hosp)
		r := admin.get("/vuln")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "正面玄関FW")
		wantContains(t, r, "CVE-2022-42475")
		wantContains(t, r, "7.2.3")
		fs, err := vuln.ListFindings(bg, d, e.hosp.ID, vuln.FindingFilter{VulnID: "CVE-2022-42475"})
		if err != nil || len(fs) != 1 {
			t.Fatalf("findings %v %v", fs, err)
		}
		f := fs[0]
		wantStatus(t, admin.get("/vuln/findings/"+f.ID), http.StatusOK)
		// Accepting the risk needs a reason and a review date.
		r = admin.post("/vuln/findings/"+f.ID+"/state", url.Values{"state": {"accepted"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantContains(t, r, text("vuln.state.reason_required"))
		r = admin.post("/vuln/findings/"+f.ID+"/state", url.Values{"state": {"accepted"}, "reason": {"来週更新予定"}, "review_on": {"2026-05-01"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ := vuln.GetFinding(bg, d, e.hosp.ID, f.ID); got.State != vuln.StateAccepted || got.ReviewOn != "2026-05-01" {
			t.Errorf("state not saved: %+v", got)
		}
		if e.auditCount(e.hosp.ID, "vuln.finding.state") != 1 {
			t.Error("remediation not audited")
		}
		r = admin.get("/vuln/findings/" + f.ID)
		wantContains(t, r, "来週更新予定")
		// Auditors read but do not change; other organisations see nothing.
		aud := e.signedIn(e.auditor, e.hosp)
		wantStatus(t, aud.post("/vuln/findings/"+f.ID+"/state", url.Values{"state": {"open"}}), http.StatusForbidden)
		other := e.signedIn(e.other, e.clinic)
		wantStatus(t, other.get("/vuln/findings/"+f.ID), http.StatusNotFound)
		wantStatus(t, other.get("/vuln/assets/"+fw.ID), http.StatusNotFound)
		// Search and detail.
		r = admin.get("/vuln/search?q=FG-IR-22-398")
		wantStatus(t, r, http.StatusOK)
		r = admin.get("/vuln/search?q=cve-2022-42475")
		wantContains(t, r, `href="/vuln/v/CVE-2022-42475"`)
		r = admin.get("/vuln/v/CVE-2022-42475")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "正面玄関FW")
		wantStatus(t, admin.get("/vuln/v/CVE-1999-0001"), http.StatusNotFound)
		// Device page: candidates, and a correction re-matches the device.
		r = admin.get("/vuln/assets/" + fw.ID)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "cpe:2.3:o:fortinet:fortios:7.2.2")
		r = admin.post("/vuln/assets/"+fw.ID+"/identity", url.Values{"cpe": {"not a cpe"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		r = admin.post("/vuln/assets/"+fw.ID+"/identity", url.Values{"cpe": {"cpe:2.3:o:fortinet:fortios:7.2.5"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ := vuln.GetFinding(bg, d, e.hosp.ID, f.ID); got.Active {
			t.Errorf("corrected identity kept the finding: %+v", got)
		}
		if e.auditCount(e.hosp.ID, "vuln.identity.set") != 1 {
			t.Error("identity change not audited")
		}
		// The operator sees the ISAC view, never a member's findings.
		oper := e.signedIn(e.oper, e.isac)
		r = oper.get("/vuln")
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(r.body, "正面玄関FW") {
			t.Error("operator sees a member's device")
		}
		r = oper.get("/vuln/v/CVE-2022-42475")
		wantContains(t, r, `id="vuln-isac-hidden"`)
		// Operators import feed files through the page; members cannot.
		kev, err := os.ReadFile("../vuln/testdata/kev/kev_trimmed.json")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, admin.upload("/vuln/import", "kev.json", kev, nil), http.StatusNotFound)
		r = oper.upload("/vuln/import", "kev.json", kev, nil)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, `id="vuln-import-result"`)
		r = oper.upload("/vuln/import", "broken.json", []byte(`{"title":"x","catalogVersion":"1","dateReleased":"2024-01-01T00:00:00Z","count":2,"vulnerabilities":[]}`), nil)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if e.auditCount(e.isac.ID, "vuln.import") != 2 {
			t.Error("imports not audited")
		}
		// An import that stopped part-way is shown with what to do; once
		// the same file is imported completely, it says so.
		if _, err := d.Exec(bg, `INSERT INTO vuln_imports (id, at, name, format, records, ok, error_key, detail, state, heartbeat, matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			db.NewID(), time.Now().Add(-time.Hour), "nvd-2026.json.gz", "nvd", 60000, false, "vuln.import.interrupted", "killed", vuln.ImportInterrupted, time.Now().Add(-time.Hour), true); err != nil {
			t.Fatal(err)
		}
		r = oper.get("/vuln/import")
		wantContains(t, r, "途中で停止")
		wantContains(t, r, "取り込みが途中で止まりました（nvd-2026.json.gz）。同じファイルをもう一度取り込むと完了します。")
		if _, err := d.Exec(bg, `INSERT INTO vuln_imports (id, at, name, format, records, ok) VALUES (?, ?, ?, ?, ?, ?)`,
			db.NewID(), time.Now(), "nvd-2026.json.gz", "nvd", 60000, true); err != nil {
			t.Fatal(err)
		}
		r = oper.get("/vuln/import")
		wantContains(t, r, "その後、同じファイルの取り込みが完了しています。")
		// Inventory asset page links to the device's findings.
		wantContains(t, admin.get("/inventory/assets/"+fw.ID), "/vuln/assets/"+fw.ID)
		// Webhook: admins only, https only.
		wantStatus(t, e.signedIn(e.staff, e.hosp).post("/vuln/webhook", url.Values{"url": {"https://hooks.example.jp/x"}}), http.StatusForbidden)
		wantStatus(t, admin.post("/vuln/webhook", url.Values{"url": {"https://hooks.example.jp/x"}}), http.StatusSeeOther)
		if u, _ := vuln.Webhook(bg, d, e.hosp.ID); u != "https://hooks.example.jp/x" {
			t.Errorf("webhook %q", u)
		}
	})
}
