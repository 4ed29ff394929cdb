package mfa

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// cdp speaks the Chrome DevTools Protocol over --remote-debugging-pipe:
// NUL-terminated JSON messages on file descriptors 3 (to the browser) and
// 4 (from it).
type cdp struct {
	w    *os.File
	msgs chan map[string]json.RawMessage
	next int
}

func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		dbtest.SkipOrFail(t, "browser", "no chromium on PATH")
	}
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	profile, err := os.MkdirTemp("", "medisac-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--no-default-browser-check", "--user-data-dir="+profile, "about:blank")
	cmd.ExtraFiles = []*os.File{toR, fromW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		dbtest.SkipOrFail(t, "browser", err.Error())
	}
	toR.Close()
	fromW.Close()
	t.Cleanup(func() {
		toW.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		fromR.Close()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	c := &cdp{w: toW, msgs: make(chan map[string]json.RawMessage, 64)}
	go func() {
		defer close(c.msgs)
		r := bufio.NewReader(fromR)
		for {
			b, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(b[:len(b)-1], &m) == nil {
				c.msgs <- m
			}
		}
	}()
	return c
}

// call sends one command (to a page session when session is set) and
// waits for its answer.
func (c *cdp) call(t *testing.T, session, method string, params any) json.RawMessage {
	t.Helper()
	c.next++
	id := c.next
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, _ := json.Marshal(msg)
	if _, err := c.w.Write(append(b, 0)); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("%s: browser closed the pipe", method)
			}
			var got int
			if json.Unmarshal(m["id"], &got) != nil || got != id {
				continue
			}
			if e, bad := m["error"]; bad {
				t.Fatalf("%s: %s", method, e)
			}
			return m["result"]
		case <-timeout:
			t.Fatalf("%s: no answer", method)
		}
	}
}

// eval evaluates a JavaScript expression in the page and returns its value
// as JSON.
func (c *cdp) eval(t *testing.T, session, expr string) string {
	t.Helper()
	res := c.call(t, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var out struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
	}
	_ = json.Unmarshal(res, &out)
	return string(out.Result.Value)
}

// waitFor polls expr in the page until it is true.
func (c *cdp) waitFor(t *testing.T, session, expr, explain string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c.eval(t, session, expr) == "true" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: page at %s says %s", explain, c.eval(t, session, "location.href"),
		c.eval(t, session, `(document.querySelector("[data-passkey-status]")||{}).textContent || document.body.innerText`))
}

// TestPasskeyScriptInBrowser runs passkey.js in headless Chromium with a
// virtual authenticator against handlers that call the Service.
func TestPasskeyScriptInBrowser(t *testing.T) {
	d := dbtest.SQLite(t)
	c := newClock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port)
	s, err := New(d, "medisac", WebAuthnConfig{RPID: "localhost", RPDisplayName: "medisac", RPOrigins: []string{origin}}, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	var uid string
	const csrf = "csrf-token-for-test"

	page := func(mode string) string {
		return `<!doctype html><html lang="ja"><meta charset="utf-8"><title>passkey</title>
<form data-passkey="` + mode + `" data-begin="/` + mode + `/begin" data-finish="/` + mode + `/finish"
 data-msg-unsupported="unsupported" data-msg-cancelled="cancelled" data-msg-failed="failed">
<input type="hidden" name="csrf" value="` + csrf + `"><input name="name" value="ブラウザのパスキー">
<button type="submit">go</button><p data-passkey-status role="alert" hidden></p></form>
<script src="/passkey.js" defer></script>`
	}
	type finish struct {
		CSRF        string          `json:"csrf"`
		Name        string          `json:"name"`
		ChallengeID string          `json:"challengeId"`
		Credential  json.RawMessage `json:"credential"`
	}
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(apperr.Status(apperr.CodeOf(err)))
			v = map[string]any{"error": map[string]string{"message": apperr.From(err).Key + ": " + err.Error()}}
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	readFinish := func(r *http.Request) (finish, error) {
		var f finish
		if r.Header.Get("X-CSRF-Token") != csrf {
			return f, apperr.New(apperr.Forbidden, "error.csrf")
		}
		err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&f)
		if err == nil && f.CSRF != csrf {
			err = apperr.New(apperr.Forbidden, "error.csrf")
		}
		return f, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /passkey.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(PasskeyJS)
	})
	for _, mode := range []string{"register", "login"} {
		mux.HandleFunc("GET /"+mode, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
			_, _ = w.Write([]byte(page(mode)))
		})
	}
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!doctype html><p id=done>" + html.EscapeString(r.URL.Query().Get("m")) + "</p>"))
	})
	mux.HandleFunc("POST /register/begin", func(w http.ResponseWriter, r *http.Request) {
		if _, err := readFinish(r); err != nil {
			reply(w, nil, err)
			return
		}
		opts, id, err := s.BeginPasskeyRegistration(r.Context(), uid, "browser@example.jp", "ブラウザ 太郎")
		reply(w, map[string]any{"challengeId": id, "options": opts}, err)
	})
	mux.HandleFunc("POST /register/finish", func(w http.ResponseWriter, r *http.Request) {
		f, err := readFinish(r)
		if err == nil {
			err = s.FinishPasskeyRegistration(r.Context(), uid, f.ChallengeID, f.Name, f.Credential)
		}
		reply(w, map[string]string{"redirect": "/done?m=registered"}, err)
	})
	mux.HandleFunc("POST /login/begin", func(w http.ResponseWriter, r *http.Request) {
		if _, err := readFinish(r); err != nil {
			reply(w, nil, err)
			return
		}
		opts, id, err := s.BeginPasskeyLogin(r.Context(), uid)
		reply(w, map[string]any{"challengeId": id, "options": opts}, err)
	})
	mux.HandleFunc("POST /login/finish", func(w http.ResponseWriter, r *http.Request) {
		f, err := readFinish(r)
		if err == nil {
			err = s.FinishPasskeyLogin(r.Context(), uid, f.ChallengeID, f.Credential)
		}
		reply(w, map[string]string{"redirect": "/done?m=signed-in"}, err)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()

	b := startChromium(t)
	var target struct {
		TargetID string `json:"targetId"`
	}
	_ = json.Unmarshal(b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}), &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &attached)
	sess := attached.SessionID
	b.call(t, sess, "Page.enable", map[string]any{})
	b.call(t, sess, "WebAuthn.enable", map[string]any{"enableUI": false})
	b.call(t, sess, "WebAuthn.addVirtualAuthenticator", map[string]any{"options": map[string]any{
		"protocol": "ctap2", "transport": "internal", "hasResidentKey": true, "hasUserVerification": true,
		"isUserVerified": true, "automaticPresenceSimulation": true,
	}})

	// The second round hides the JSON helpers of newer browsers so the
	// script's own base64url conversion is used.
	for _, round := range []struct{ name, prelude string }{
		{"native", ""},
		{"fallback", `delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;`},
	} {
		t.Run(round.name, func(t *testing.T) {
			uid = newUser(t, d, round.name+"@example.jp")
			if round.prelude != "" {
				b.call(t, sess, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": round.prelude})
			}
			browserRound(t, b, sess, s, origin, uid)
			helpers := b.eval(t, sess, `typeof PublicKeyCredential.prototype.toJSON`)
			if (round.prelude != "") != (helpers == `"undefined"`) {
				t.Fatalf("toJSON is %s in round %s", helpers, round.name)
			}
		})
	}
}

func browserRound(t *testing.T, b *cdp, sess string, s *Service, origin, uid string) {
	ctx := context.Background()
	for _, step := range []struct{ mode, want string }{{"register", "registered"}, {"login", "signed-in"}} {
		b.call(t, sess, "Page.navigate", map[string]any{"url": origin + "/" + step.mode})
		b.waitFor(t, sess, `document.readyState === "complete" && !!document.querySelector("form[data-passkey]")`, step.mode+" page")
		b.eval(t, sess, `document.querySelector("form").requestSubmit(), true`)
		b.waitFor(t, sess, `location.pathname === "/done" && document.getElementById("done").textContent === "`+step.want+`"`, step.mode)
	}

	list, err := s.ListPasskeys(ctx, uid)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListPasskeys = %+v, %v", list, err)
	}
	if list[0].Name != "ブラウザのパスキー" || list[0].LastUsedAt == nil {
		t.Fatalf("passkey after browser sign-in: %+v", list[0])
	}

	// Registering the same authenticator again is stopped by the browser
	// (excluded credential) and reported in the form.
	b.call(t, sess, "Page.navigate", map[string]any{"url": origin + "/register"})
	b.waitFor(t, sess, `document.readyState === "complete" && !!document.querySelector("form[data-passkey]")`, "register page")
	b.eval(t, sess, `document.querySelector("form").requestSubmit(), true`)
	b.waitFor(t, sess, `(() => { const s = document.querySelector("[data-passkey-status]"); return !s.hidden && s.textContent !== ""; })()`, "duplicate registration")
	if got := strings.Trim(b.eval(t, sess, `document.querySelector("[data-passkey-status]").textContent`), `"`); got != "failed" && got != "cancelled" {
		t.Fatalf("duplicate registration shows %q", got)
	}
	if list, _ := s.ListPasskeys(ctx, uid); len(list) != 1 {
		t.Fatalf("%d passkeys after duplicate registration", len(list))
	}
}
