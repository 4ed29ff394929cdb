package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// The passkey ceremonies are called by the page's script: their answers,
// errors included, are JSON, whoever calls and however it goes wrong.
func TestPasskeyEndpointsAnswerJSON(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		org := e.mustOrg(auth.OrgInput{Kind: auth.KindClinic, Name: "南町クリニック", NameKana: "ミナミマチ", Prefecture: "東京都"})
		u := e.mustUser("doctor@minami.example.jp", "院長", org, auth.RoleAdmin)
		signed := e.signedIn(u, org)
		visitor := e.client()
		visitor.get("/signin") // the sign-in page gives a visitor a CSRF token

		send := func(c *client, path, body string) (int, map[string]any) {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", c.csrf)
			r := c.do(req)
			var out map[string]any
			if err := json.Unmarshal([]byte(r.body), &out); err != nil {
				t.Fatalf("%s: not JSON (%d): %.200s", path, r.status, r.body)
			}
			return r.status, out
		}
		errCode := func(out map[string]any) string {
			m, _ := out["error"].(map[string]any)
			s, _ := m["code"].(string)
			return s
		}

		// Without a half-finished sign-in, the second-factor step says so in JSON.
		for _, path := range []string{"/mfa/passkey/begin", "/mfa/passkey/finish"} {
			if st, out := send(visitor, path, `{}`); st != http.StatusUnauthorized || errCode(out) != "unauthenticated" {
				t.Errorf("%s without a partial session: %d %v", path, st, out)
			}
		}
		// A signed-in person starts registering a passkey: the options come back.
		st, out := send(signed, "/account/passkeys/begin", `{}`)
		if st != http.StatusOK || out["challengeId"] == "" || out["options"] == nil {
			t.Fatalf("begin registration: %d %v", st, out)
		}
		// A broken body and an unknown challenge are JSON errors, and no passkey is kept.
		if st, out := send(signed, "/account/passkeys/finish", `{"challengeId":`); st != http.StatusBadRequest || errCode(out) != "invalid" {
			t.Errorf("broken body: %d %v", st, out)
		}
		if st, out := send(signed, "/account/passkeys/finish", `{"challengeId":"nope","name":"鍵","credential":{}}`); st < 400 || errCode(out) == "" {
			t.Errorf("unknown challenge: %d %v", st, out)
		}
		var n int
		if err := d.QueryRow(bg, `SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = ?`, u.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("passkeys kept after failed ceremonies: %d, %v", n, err)
		}
	})
}
