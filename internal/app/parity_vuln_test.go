package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/match"
)

func init() {
	n := 0
	// parityAsset registers a FortiGate in the hospital and returns its id.
	parityAsset := func(w *parityWorld) string {
		n++
		a, err := inventory.CreateAsset(w.ctx, w.DB(), w.Hospital, "", inventory.Asset{Name: fmt.Sprintf("同一記録FW%d", n), Kind: inventory.KindNetwork,
			Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"}, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		return a.ID
	}
	// aliasBody is the alias table in force with one more vendor spelling.
	aliasBody := func(w *parityWorld) []byte {
		n++
		cur, err := vuln.CurrentAliases(w.ctx, w.DB(), nil)
		if err != nil {
			w.t.Fatal(err)
		}
		f := cur.File()
		f.Vendors = append(f.Vendors, match.VendorAlias{CPE: fmt.Sprintf("parity_vendor_%d", n), Names: []string{fmt.Sprintf("同一記録社%d", n)}})
		return match.EncodeAliases(f)
	}
	latestAliases := func(w *parityWorld) string {
		var id string
		if err := w.DB().QueryRow(w.ctx, `SELECT id FROM vuln_alias_versions ORDER BY seq DESC LIMIT 1`).Scan(&id); err != nil {
			w.t.Fatal(err)
		}
		return id
	}
	feed := func(w *parityWorld) []byte {
		b, err := os.ReadFile(filepath.Join("..", "vuln", "testdata", "nvd", "CVE-2022-42475.json"))
		if err != nil {
			w.t.Fatal(err)
		}
		return b
	}
	// The import comes first: the vulnerability it brings keeps the
	// findings of the later cases matched when an alias change re-matches
	// every asset.
	parityCases = append(parityCases,
		parityCase{
			Name: "vuln.import by the ISAC's admin", Rule: "vuln.import", As: "isac_admin",
			Web: func(w *parityWorld, _ string) string {
				w.Upload("/vuln/import", "/vuln/import", "file", "CVE-2022-42475.json", feed(w))
				return "CVE-2022-42475.json"
			},
			CLI: func(w *parityWorld, _ string) string {
				w.CLI("vuln", "import", w.File("CVE-2022-42475.json", feed(w)))
				return "CVE-2022-42475.json"
			},
		},
		parityCase{
			Name: "vuln.finding.state by the hospital's admin", Rule: "vuln.finding.state", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				asset := parityAsset(w)
				id := db.NewID()
				if _, err := w.DB().Exec(w.ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, confidence, priority, first_seen, changed_at)
					VALUES (?, ?, ?, 'CVE-2022-42475', 'exact', 1, ?, ?)`, id, w.Hospital, asset, w.now, w.now); err != nil {
					w.t.Fatal(err)
				}
				return id
			},
			Web: webForm("/vuln/findings/{obj}", "/vuln/findings/{obj}/state", url.Values{"state": {"in_progress"}}),
			API: apiCall("PATCH", "/api/v1/orgs/{hospital}/vuln/findings/{obj}", map[string]any{"state": "in_progress"}),
		},
		parityCase{
			Name: "vuln.identity.set by the hospital's admin", Rule: "vuln.identity.set", As: "hospital_admin",
			Setup: parityAsset,
			Web:   webForm("/vuln/assets/{obj}", "/vuln/assets/{obj}/identity", url.Values{"cpe": {"cpe:2.3:o:fortinet:fortios:7.2.1"}}),
			API:   apiCall("PUT", "/api/v1/orgs/{hospital}/vuln/assets/{obj}/identity", map[string]any{"cpe": []string{"cpe:2.3:o:fortinet:fortios:7.2.1"}}),
		},
		parityCase{
			Name: "vuln.aliases.change by the ISAC's admin", Rule: "vuln.aliases.change", As: "isac_admin",
			Web: func(w *parityWorld, _ string) string {
				n++
				w.Form("/vuln/aliases", "/vuln/aliases/vendor", url.Values{"spelling": {fmt.Sprintf("同一記録ウェブ社%d", n)}, "cpe": {fmt.Sprintf("parity_web_%d", n)}})
				return latestAliases(w)
			},
			API: func(w *parityWorld, _ string) string {
				w.Call("PUT", "/api/v1/vuln/aliases", json.RawMessage(aliasBody(w)), nil)
				return latestAliases(w)
			},
			CLI: func(w *parityWorld, _ string) string {
				w.CLI("vuln", "aliases", "import", w.File("aliases.json", aliasBody(w)), "--note", "同一記録")
				return latestAliases(w)
			},
		},
	)
}
