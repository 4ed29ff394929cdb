package app

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// DemoLogin is one demo account, printed at start.
type DemoLogin struct {
	Org      string `json:"org"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

type demoOrg struct {
	in    auth.OrgInput
	users []demoUser
}

type demoUser struct {
	email, name string
	role        auth.Role
}

func intp(n int) *int { return &n }

var demoOrgs = []demoOrg{
	{auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC事務局（デモ）", NameKana: "イリョウアイザックジムキョク", Prefecture: "東京都"},
		[]demoUser{{"isac-admin@demo.medisac.jp", "事務局 管理者", auth.RoleAdmin}, {"isac-staff@demo.medisac.jp", "事務局 担当", auth.RoleStaff}}},
	{auth.OrgInput{Kind: auth.KindHospital, Name: "みなと総合病院（デモ）", NameKana: "ミナトソウゴウビョウイン", Prefecture: "大阪府", MedicalCode: "2712345", Beds: intp(420), MFAPolicy: auth.MFAEveryone},
		[]demoUser{{"hospital-admin@demo.medisac.jp", "情報システム課 課長", auth.RoleAdmin}, {"hospital-staff@demo.medisac.jp", "医事課 職員", auth.RoleStaff}, {"hospital-auditor@demo.medisac.jp", "監査担当", auth.RoleAuditor}}},
	{auth.OrgInput{Kind: auth.KindClinic, Name: "さくら内科クリニック（デモ）", NameKana: "サクラナイカクリニック", Prefecture: "徳島県", MedicalCode: "3612345", Beds: intp(0)},
		[]demoUser{{"clinic-admin@demo.medisac.jp", "院長", auth.RoleAdmin}, {"clinic-staff@demo.medisac.jp", "受付 職員", auth.RoleStaff}}},
	{auth.OrgInput{Kind: auth.KindVendor, Name: "メディカルシステムズ株式会社（デモ）", NameKana: "メディカルシステムズ", Prefecture: "東京都"},
		[]demoUser{{"vendor-admin@demo.medisac.jp", "保守サポート 責任者", auth.RoleAdmin}}},
}

// demoPassword makes a random password that meets the policy for u.
func demoPassword(u demoUser) string {
	for {
		pw := "Pw-" + auth.RandomToken(12) + "-7!"
		if auth.CheckPasswordPolicy(pw, u.email, u.name) == nil {
			return pw
		}
	}
}

// SeedDemo creates the demo organisations and people once, and returns
// their logins (kept in the data folder so a restart prints the same ones).
func SeedDemo(ctx context.Context, n *Node) ([]DemoLogin, error) {
	file := filepath.Join(n.Cfg.DataDir, "demo-logins.json")
	if b, err := os.ReadFile(file); err == nil {
		var logins []DemoLogin
		if err := json.Unmarshal(b, &logins); err == nil && len(logins) > 0 {
			if _, err := auth.GetUserByEmail(ctx, n.DB, logins[0].Email); err == nil {
				return logins, nil
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var logins []DemoLogin
	now := n.now()
	err := n.DB.InTx(ctx, func(tx *db.Tx) error {
		for _, o := range demoOrgs {
			org, err := auth.CreateOrg(ctx, tx, o.in, now)
			if err != nil {
				return err
			}
			if _, err := n.Audit.Append(ctx, tx, cliEntry("org.create", "org", org.ID, org.ID, map[string]any{"name": org.Name, "demo": true})); err != nil {
				return err
			}
			for _, du := range o.users {
				pw := demoPassword(du)
				u, err := auth.CreateUser(ctx, tx, auth.NewUser{Email: du.email, DisplayName: du.name, Lang: "ja", Password: pw}, now)
				if err != nil {
					return err
				}
				if err := auth.AddMember(ctx, tx, org.ID, u.ID, du.role, now); err != nil {
					return err
				}
				if _, err := n.Audit.Append(ctx, tx, cliEntry("org.member.add", "user", u.ID, org.ID, map[string]any{"email": u.Email, "role": du.role, "demo": true})); err != nil {
					return err
				}
				logins = append(logins, DemoLogin{Org: org.Name, Email: u.Email, Role: string(du.role), Password: pw})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := seedDemoInventory(ctx, n, now); err != nil {
		return nil, err
	}
	if err := seedDemoVulns(ctx, n); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(logins, "", "  ")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return logins, nil
}

//go:embed demodata
var demoData embed.FS

type demoConn struct {
	name, asset, peer, vendor, purpose string
	typ                                inventory.ConnType
	mfa                                inventory.Tri
	manager                            inventory.Manager
}

// demoInventory gives the demo hospital and clinic a small register with
// the problems the Japanese hospital surveys found: a vendor SSL-VPN without
// MFA, an LTE maintenance line for CT/MRI, a forgotten ISDN line, a medical
// device on the general network, an unsupported Windows PC.
var demoInventory = map[string]struct {
	file     string
	vendors  []inventory.Vendor
	conns    []demoConn
	orgIndex int
}{
	"hospital": {file: "demodata/hospital_assets.csv", orgIndex: 1,
		vendors: []inventory.Vendor{
			{Name: "メディカルシステムズ株式会社", Contact: "保守サポートセンター", Phone: "0120-000-111", Email: "support@medical-systems.example.jp"},
			{Name: "キヤノン保守センター", Contact: "画像診断機器サービス", Phone: "0120-000-222"},
		},
		conns: []demoConn{
			{name: "保守業者用SSL-VPN", asset: "本館ファイアウォール", peer: "メディカルシステムズ 保守拠点", vendor: "メディカルシステムズ株式会社", purpose: "電子カルテ・部門システムの遠隔保守", typ: inventory.ConnSSLVPN, mfa: inventory.No, manager: inventory.ManagerVendor},
			{name: "インターネット回線", asset: "本館ファイアウォール", peer: "ISP", purpose: "メール・Web閲覧・VPN", typ: inventory.ConnInternet, mfa: inventory.Unknown, manager: inventory.ManagerIT},
			{name: "CT・MRI遠隔保守（LTE）", asset: "保守用LTEルータ", peer: "キヤノン保守センター", vendor: "キヤノン保守センター", purpose: "CT・MRIの遠隔監視と保守", typ: inventory.ConnMobile, mfa: inventory.Unknown, manager: inventory.ManagerVendor},
			{name: "旧検査機器用ISDN回線", peer: "不明", purpose: "以前の検査機器の保守（現在の利用者は不明）", typ: inventory.ConnISDN, mfa: inventory.Unknown, manager: inventory.ManagerUnknown},
		}},
	"clinic": {file: "demodata/clinic_assets.csv", orgIndex: 2,
		vendors: []inventory.Vendor{{Name: "メディカルシステムズ株式会社", Phone: "0120-000-111"}},
		conns: []demoConn{
			{name: "光回線", asset: "インターネットルータ", peer: "ISP", purpose: "インターネット・オンライン資格確認", typ: inventory.ConnInternet, mfa: inventory.Unknown, manager: inventory.ManagerOtherDept},
			{name: "リモート保守ツール", asset: "電子カルテ（クライアントサーバ）", peer: "メディカルシステムズ 保守拠点", vendor: "メディカルシステムズ株式会社", purpose: "電子カルテの遠隔保守", typ: inventory.ConnRemoteDesktop, mfa: inventory.No, manager: inventory.ManagerUnknown},
		}},
}

func seedDemoInventory(ctx context.Context, n *Node, now time.Time) error {
	orgs, err := demoOrgIDs(ctx, n)
	if err != nil {
		return err
	}
	for _, key := range []string{"hospital", "clinic"} {
		inv := demoInventory[key]
		orgID := orgs[inv.orgIndex]
		data, err := demoData.ReadFile(inv.file)
		if err != nil {
			return err
		}
		if _, err := inventory.ImportFile(ctx, n.DB, mustCatalog(), orgID, "", "demo.csv", data, false, now); err != nil {
			return fmt.Errorf("demo register %s: %w", key, err)
		}
		err = n.DB.InTx(ctx, func(tx *db.Tx) error {
			vendorIDs := map[string]string{}
			for _, v := range inv.vendors {
				nv, err := inventory.CreateVendor(ctx, tx, orgID, v, now)
				if err != nil {
					return err
				}
				vendorIDs[v.Name] = nv.ID
			}
			for _, c := range inv.conns {
				conn := inventory.Connection{Name: c.name, Type: c.typ, Peer: c.peer, Purpose: c.purpose, MFA: c.mfa, Manager: c.manager, VendorID: vendorIDs[c.vendor]}
				if c.asset != "" {
					a, err := inventory.GetAssetByName(ctx, tx, orgID, c.asset)
					if err != nil {
						return fmt.Errorf("demo connection %s: device %s: %w", c.name, c.asset, err)
					}
					conn.AssetID = a.ID
				}
				if _, err := inventory.CreateConnection(ctx, tx, orgID, conn, now); err != nil {
					return err
				}
			}
			_, err := n.Audit.Append(ctx, tx, cliEntry("inventory.import", "org", orgID, orgID, map[string]any{"demo": true}))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// demoOrgIDs returns the demo organisations' ids in demoOrgs order.
func demoOrgIDs(ctx context.Context, n *Node) ([]string, error) {
	var ids []string
	for _, o := range demoOrgs {
		var id string
		if err := n.DB.QueryRow(ctx, `SELECT id FROM organizations WHERE name = ?`, o.in.Name).Scan(&id); err != nil {
			return nil, fmt.Errorf("demo organisation %s: %w", o.in.Name, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// seedDemoVulns loads a few real feed records (NVD and CISA KEV entries for
// FortiOS flaws used against hospitals), so the demo hospital's firewall
// shows findings at once.
func seedDemoVulns(ctx context.Context, n *Node) error {
	w := newWatch(n.Cfg, n.DB, n.Audit, n.Queue)
	entries, err := demoData.ReadDir("demodata/feeds")
	if err != nil {
		return err
	}
	for _, e := range entries {
		f, err := demoData.Open("demodata/feeds/" + e.Name())
		if err != nil {
			return err
		}
		_, err = w.Import(ctx, e.Name(), f)
		f.Close()
		if err != nil {
			return fmt.Errorf("demo feed %s: %w", e.Name(), err)
		}
	}
	return nil
}
