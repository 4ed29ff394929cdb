package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestAPITokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		expires := t0.Add(30 * 24 * time.Hour)
		raw, tok, err := auth.CreateToken(ctx, d, f.staff.ID, f.hosp.ID, " 資産台帳の連携 ", true, &expires, t0)
		must(t, err)
		if !strings.HasPrefix(raw, auth.TokenPrefix) || len(raw) < 45 || tok.Name != "資産台帳の連携" || !tok.Write {
			t.Fatalf("CreateToken: %q %+v", raw, tok)
		}

		// Stored only as a hash: no column holds the raw value.
		rows, err := d.Query(ctx, `SELECT id, user_id, org_id, name, token_hash FROM api_tokens`)
		must(t, err)
		n := 0
		for rows.Next() {
			var cols [5]string
			must(t, rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]))
			for _, c := range cols {
				if strings.Contains(c, raw) || strings.Contains(c, strings.TrimPrefix(raw, auth.TokenPrefix)) {
					t.Fatalf("raw token stored in %q", c)
				}
			}
			if cols[4] != auth.HashToken(raw) {
				t.Fatalf("token_hash %q is not the hash of the token", cols[4])
			}
			n++
		}
		must(t, rows.Err())
		if n != 1 {
			t.Fatalf("%d token rows", n)
		}

		touches := auth.NewTouches()
		tctx := auth.WithTouches(ctx, touches)
		p, err := auth.PrincipalForToken(tctx, d, raw, t0.Add(time.Hour))
		must(t, err)
		if p.UserID != f.staff.ID || p.OrgID != f.hosp.ID || p.OrgKind != auth.KindHospital || p.Role != auth.RoleStaff || p.TokenID != tok.ID || !p.TokenWrite || !p.CanWrite() || p.SessionID != "" {
			t.Fatalf("principal %+v", p)
		}
		// The use is not written yet, but the node's own list shows it.
		if n := count(t, d, `SELECT COUNT(*) FROM api_tokens WHERE last_used_at IS NOT NULL`); n != 0 {
			t.Fatal("authenticating with a token wrote its last use")
		}
		list, err := auth.ListTokens(tctx, d, f.staff.ID)
		must(t, err)
		if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(t0.Add(time.Hour)) || list[0].ExpiresAt == nil || !list[0].ExpiresAt.Equal(expires) {
			t.Fatalf("ListTokens: %+v", list)
		}
		must(t, touches.Flush(ctx, d))
		list, err = auth.ListTokens(ctx, d, f.staff.ID)
		must(t, err)
		if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("ListTokens after the flush: %+v", list)
		}
		// A use within a minute of the stored one is not even recorded.
		_, err = auth.PrincipalForToken(tctx, d, raw, t0.Add(time.Hour+30*time.Second))
		must(t, err)
		if s, tk := touches.Pending(); s != 0 || tk != 0 {
			t.Fatalf("pending %d sessions, %d tokens", s, tk)
		}

		for _, bad := range []string{"", raw[:len(raw)-1], raw + "x", strings.TrimPrefix(raw, auth.TokenPrefix), auth.HashToken(raw), "msac_" + strings.Repeat("a", 100)} {
			_, err := auth.PrincipalForToken(ctx, d, bad, t0)
			wantNotFound(t, err)
		}

		// Expiry.
		_, err = auth.PrincipalForToken(ctx, d, raw, expires.Add(-time.Second))
		must(t, err)
		_, err = auth.PrincipalForToken(ctx, d, raw, expires)
		wantNotFound(t, err)
		past := t0.Add(-time.Minute)
		_, _, err = auth.CreateToken(ctx, d, f.staff.ID, f.hosp.ID, "old", false, &past, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.token.expiry_past", "expires_at")
		_, _, err = auth.CreateToken(ctx, d, f.staff.ID, f.hosp.ID, "  ", false, nil, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.token.name_required", "name")
		_, _, err = auth.CreateToken(ctx, d, f.staff.ID, f.hosp.ID, strings.Repeat("名", 101), false, nil, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.token.name_too_long", "name")
		_, _, err = auth.CreateToken(ctx, d, f.staff.ID, f.clinic.ID, "not mine", false, nil, t0)
		wantNotFound(t, err)

		// A read-only token cannot write, even for an admin.
		roRaw, ro, err := auth.CreateToken(ctx, d, f.admin.ID, f.hosp.ID, "read only", false, nil, t0)
		must(t, err)
		rp, err := auth.PrincipalForToken(ctx, d, roRaw, t0)
		must(t, err)
		if rp.CanWrite() || auth.Allowed(rp, "org.member.role", auth.Target{OrgID: f.hosp.ID}) || rp.Role != auth.RoleAdmin {
			t.Fatalf("read-only token principal may write: %+v", rp)
		}
		_, _, err = auth.ChangeRole(ctx, d, nil, rp, f.hosp.ID, f.staff.ID, auth.RoleAuditor)
		if !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("read-only token ChangeRole: %v", err)
		}

		// Revoking another person's token looks like a missing token and leaves it working.
		err = auth.RevokeToken(ctx, d, f.staff.ID, ro.ID)
		wantNotFound(t, err)
		_, err = auth.PrincipalForToken(ctx, d, roRaw, t0)
		must(t, err)
		must(t, auth.RevokeToken(ctx, d, f.admin.ID, ro.ID))
		_, err = auth.PrincipalForToken(ctx, d, roRaw, t0)
		wantNotFound(t, err)
		err = auth.RevokeToken(ctx, d, f.admin.ID, ro.ID)
		wantNotFound(t, err)

		// A token stops working when its owner leaves the organisation, even
		// if the token row is left behind, and when the owner is disabled.
		_, err = d.Exec(ctx, `DELETE FROM memberships WHERE user_id = ? AND org_id = ?`, f.staff.ID, f.hosp.ID)
		must(t, err)
		_, err = auth.PrincipalForToken(ctx, d, raw, t0)
		wantNotFound(t, err)
		must(t, auth.AddMember(ctx, d, f.hosp.ID, f.staff.ID, auth.RoleAuditor, t0))
		p, err = auth.PrincipalForToken(ctx, d, raw, t0)
		must(t, err)
		if p.Role != auth.RoleAuditor || p.CanWrite() {
			t.Fatalf("write token of an auditor: %+v", p)
		}
		_, err = d.Exec(ctx, `UPDATE users SET disabled = TRUE WHERE id = ?`, f.staff.ID)
		must(t, err)
		_, err = auth.PrincipalForToken(ctx, d, raw, t0)
		wantNotFound(t, err)
	})
}

func TestPrincipalRules(t *testing.T) {
	var nilP *auth.Principal
	manage := func(p *auth.Principal, org string) bool {
		return auth.Allowed(p, "org.member.role", auth.Target{OrgID: org})
	}
	if nilP.CanWrite() || nilP.CanSeeOrg("") || nilP.IsOperator() || nilP.IsAdmin() || manage(nilP, "") {
		t.Fatal("a nil principal may do something")
	}
	cases := []struct {
		p                       auth.Principal
		write, manageOwn, other bool
	}{
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindHospital, Role: auth.RoleAdmin}, true, true, false},
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindHospital, Role: auth.RoleStaff}, true, false, false},
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindHospital, Role: auth.RoleAuditor}, false, false, false},
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindHospital, Role: auth.RoleAdmin, TokenID: "t"}, false, false, false},
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindHospital, Role: auth.RoleAdmin, TokenID: "t", TokenWrite: true}, true, true, false},
		// Operators manage their own members, never another organisation's.
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindISAC, Role: auth.RoleAdmin}, true, true, false},
		{auth.Principal{UserID: "u", OrgID: "h", OrgKind: auth.KindISAC, Role: auth.RoleStaff}, true, false, false},
		{auth.Principal{UserID: "u", OrgKind: auth.KindISAC, Role: auth.RoleAdmin}, true, false, false},
	}
	for i, c := range cases {
		if c.p.CanWrite() != c.write || manage(&c.p, "h") != c.manageOwn || manage(&c.p, "x") != c.other || c.p.CanSeeOrg("x") != c.p.IsOperator() {
			t.Errorf("case %d %+v: write %v manage %v other %v", i, c.p, c.p.CanWrite(), manage(&c.p, "h"), manage(&c.p, "x"))
		}
	}
}
