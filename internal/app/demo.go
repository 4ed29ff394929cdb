package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
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
	b, _ := json.MarshalIndent(logins, "", "  ")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return logins, nil
}
