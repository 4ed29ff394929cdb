package app

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/inventory"
)

// The register's cases: an asset created, changed and deleted, a vendor
// (another record kind) created, and an import through every door.

var parityCounter int

func parityName(prefix string) string {
	parityCounter++
	return fmt.Sprintf("%s-%03d", prefix, parityCounter)
}

// parityAsset makes an asset of the hospital directly in the register.
func parityAsset(w *parityWorld) string {
	svc := inventory.NewService(w.DB(), w.n.Audit, mustCatalog(), nil)
	a, err := svc.CreateAsset(w.ctx, auth.CommandLine("setup", w.Hospital), w.Hospital, inventory.Asset{Name: parityName("同一記録端末")})
	if err != nil {
		w.t.Fatal(err)
	}
	return a.ID
}

var parityImportToken = regexp.MustCompile(`name="token" value="([0-9a-f]{32})"`)

func parityRegister() []byte {
	return []byte("名称,種別,ホスト名,備考\n" + parityName("取込端末") + ",PC,pc-parity,同一記録\n")
}

func init() {
	parityCases = append(parityCases,
		parityCase{
			Name: "inventory asset create", Rule: "inventory.write", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				name := parityName("新規端末")
				_, loc := w.Form("/inventory/assets/new", "/inventory/assets", url.Values{"name": {name}, "kind": {"pc"}})
				if loc == "" {
					w.t.Fatal("no redirect after the create")
				}
				a, err := inventory.GetAssetByName(w.ctx, w.DB(), w.Hospital, name)
				if err != nil {
					w.t.Fatal(err)
				}
				return a.ID
			},
			API: func(w *parityWorld, _ string) string {
				var out inventory.Asset
				w.Call("POST", "/api/v1/orgs/"+w.Hospital+"/inventory/assets", map[string]any{"name": parityName("新規端末"), "kind": "pc"}, &out)
				return out.ID
			},
		},
		parityCase{
			Name: "inventory asset update", Rule: "inventory.write", As: "hospital_admin",
			Setup: parityAsset,
			Web: func(w *parityWorld, id string) string {
				a, err := inventory.GetAsset(w.ctx, w.DB(), w.Hospital, id)
				if err != nil {
					w.t.Fatal(err)
				}
				w.Form("/inventory/assets/"+id+"/edit", "/inventory/assets/"+id, url.Values{"name": {a.Name}, "kind": {"server"}, "role": {"電子カルテ"}})
				return id
			},
			API: apiCall("PATCH", "/api/v1/orgs/{hospital}/inventory/assets/{obj}", map[string]any{"kind": "server", "role": "電子カルテ"}),
		},
		parityCase{
			Name: "inventory asset delete", Rule: "inventory.write", As: "hospital_admin",
			Setup: parityAsset,
			Web:   webForm("/inventory/assets/{obj}/edit", "/inventory/assets/{obj}/delete", nil),
			API:   apiCall("DELETE", "/api/v1/orgs/{hospital}/inventory/assets/{obj}", nil),
		},
		parityCase{
			Name: "inventory vendor create", Rule: "inventory.write", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				name := parityName("保守事業者")
				w.Form("/inventory/vendors/new", "/inventory/vendors", url.Values{"name": {name}})
				vs, err := inventory.ListVendors(w.ctx, w.DB(), w.Hospital)
				if err != nil {
					w.t.Fatal(err)
				}
				for _, v := range vs {
					if v.Name == name {
						return v.ID
					}
				}
				w.t.Fatalf("vendor %s not created", name)
				return ""
			},
			API: func(w *parityWorld, _ string) string {
				var out inventory.Vendor
				w.Call("POST", "/api/v1/orgs/"+w.Hospital+"/inventory/vendors", map[string]any{"name": parityName("保守事業者")}, &out)
				return out.ID
			},
		},
		parityCase{
			Name: "inventory import", Rule: "inventory.import", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				body := w.Upload("/inventory/import", "/inventory/import", "file", "台帳.csv", parityRegister())
				m := parityImportToken.FindStringSubmatch(body)
				if m == nil {
					w.t.Fatalf("no token on the preview: %.300s", body)
				}
				w.Form("/inventory/import", "/inventory/import/apply", url.Values{"token": {m[1]}, "filename": {"台帳.csv"}})
				return w.Hospital
			},
			API: func(w *parityWorld, _ string) string {
				w.RawCall("POST", "/api/v1/orgs/"+w.Hospital+"/inventory/import/apply?filename="+url.QueryEscape("台帳.csv"), "text/csv", parityRegister())
				return w.Hospital
			},
			CLI: func(w *parityWorld, _ string) string {
				out := w.CLI("inventory", "import", "--org", w.Hospital, w.File("台帳.csv", parityRegister()))
				if !strings.Contains(out, "imported") {
					w.t.Fatalf("command line import: %s", out)
				}
				return w.Hospital
			},
		},
	)
}
