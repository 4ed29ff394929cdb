package mfa

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// A tiny CBOR encoder (RFC 8949), enough for a "none" attestation object
// and a COSE EC2 key.

type cborMap [][2]any

func cborHead(major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return []byte{m | byte(n)}
	case n <= 0xff:
		return []byte{m | 24, byte(n)}
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16([]byte{m | 25}, uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32([]byte{m | 26}, uint32(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{m | 27}, n)
	}
}

func cbor(v any) []byte {
	switch x := v.(type) {
	case int:
		if x >= 0 {
			return cborHead(0, uint64(x))
		}
		return cborHead(1, uint64(-1-x))
	case []byte:
		return append(cborHead(2, uint64(len(x))), x...)
	case string:
		return append(cborHead(3, uint64(len(x))), x...)
	case cborMap:
		out := cborHead(5, uint64(len(x)))
		for _, kv := range x {
			out = append(out, cbor(kv[0])...)
			out = append(out, cbor(kv[1])...)
		}
		return out
	}
	panic("cbor: unsupported type")
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// softKey is a software authenticator holding one ES256 credential.
type softKey struct {
	id    []byte
	key   *ecdsa.PrivateKey
	count uint32
	flags byte
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func newSoftKey(t testing.TB) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softKey{id: id, key: k, flags: flagUP | flagUV}
}

func (k *softKey) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	flags := k.flags
	if attested {
		flags |= flagAT
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		pub, err := k.key.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		out = append(out, cbor(cborMap{{1, 2}, {3, -7}, {-1, 1}, {-2, pub[1:33]}, {-3, pub[33:65]}})...)
	}
	return out
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

type publicKeyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

func parseOptions(t testing.TB, raw json.RawMessage) publicKeyOptions {
	t.Helper()
	var o publicKeyOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("options %s: %v", raw, err)
	}
	if o.PublicKey.Challenge == "" {
		t.Fatalf("options without challenge: %s", raw)
	}
	return o
}

// create answers navigator.credentials.create options as a browser at
// origin would.
func (k *softKey) create(t testing.TB, raw json.RawMessage, origin string) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	att := cbor(cborMap{{"fmt", "none"}, {"attStmt", cborMap{}}, {"authData", k.authData(o.PublicKey.RP.ID, true)}})
	body, _ := json.Marshal(map[string]any{
		"id":    b64(k.id),
		"rawId": b64(k.id),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(clientData("webauthn.create", o.PublicKey.Challenge, origin)),
			"attestationObject": b64(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	return body
}

// get answers navigator.credentials.get options, counting one use.
func (k *softKey) get(t testing.TB, raw json.RawMessage, origin, userID string) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	k.count++
	ad := k.authData(o.PublicKey.RPID, false)
	cd := clientData("webauthn.get", o.PublicKey.Challenge, origin)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"id":    b64(k.id),
		"rawId": b64(k.id),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(cd),
			"authenticatorData": b64(ad),
			"signature":         b64(sig),
			"userHandle":        b64([]byte(userID)),
		},
		"clientExtensionResults": map[string]any{},
	})
	return body
}

// wantFailure fails unless err is a refused passkey answer whose cause
// mentions why.
func wantFailure(t *testing.T, err error, why string) {
	t.Helper()
	wantKey(t, err, "mfa.passkey_failed")
	if !strings.Contains(strings.ToLower(err.Error()), why) {
		t.Fatalf("refused for another reason than %q: %v", why, err)
	}
}

func login(s *Service, t *testing.T, uid string, k *softKey, origin string) error {
	t.Helper()
	ctx := context.Background()
	opts, cid, err := s.BeginPasskeyLogin(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	return s.FinishPasskeyLogin(ctx, uid, cid, k.get(t, opts, origin, uid))
}

func TestPasskeyFlow(t *testing.T) {
	eachService(t, "p@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		other := newUser(t, d, "q@example.jp")
		k := newSoftKey(t)

		_, _, err := s.BeginPasskeyLogin(ctx, uid)
		wantKey(t, err, "mfa.passkey_none")

		opts, cid, err := s.BeginPasskeyRegistration(ctx, uid, "p@example.jp", "試験 太郎")
		if err != nil {
			t.Fatal(err)
		}
		o := parseOptions(t, opts)
		if o.PublicKey.RP.ID != testRPID || o.PublicKey.User.ID != b64([]byte(uid)) {
			t.Fatalf("options %s", opts)
		}
		body := k.create(t, opts, testOrigin)
		err = s.FinishPasskeyRegistration(ctx, uid, cid, "x"+string(make([]rune, MaxPasskeyNameLen)), body)
		wantKey(t, err, "mfa.passkey_name_long")
		err = s.FinishPasskeyRegistration(ctx, other, cid, "ノートPC", body)
		wantKey(t, err, "mfa.challenge_expired")
		if err := s.FinishPasskeyRegistration(ctx, uid, cid, " ノートPC ", body); err != nil {
			t.Fatalf("registration: %v", err)
		}
		// The challenge is single-use.
		err = s.FinishPasskeyRegistration(ctx, uid, cid, "again", body)
		wantKey(t, err, "mfa.challenge_expired")

		list, err := s.ListPasskeys(ctx, uid)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListPasskeys = %v, %v", list, err)
		}
		if list[0].Name != "ノートPC" || list[0].LastUsedAt != nil || list[0].CloneWarning || !list[0].CreatedAt.Equal(c.Now()) {
			t.Fatalf("passkey %+v", list[0])
		}
		if has, _ := s.HasSecondFactor(ctx, uid); !has {
			t.Fatal("no second factor after registering a passkey")
		}

		// The same authenticator again: excluded in the options, refused on finish.
		opts, cid, err = s.BeginPasskeyRegistration(ctx, uid, "p@example.jp", "")
		if err != nil {
			t.Fatal(err)
		}
		if o := parseOptions(t, opts); len(o.PublicKey.ExcludeCredentials) != 1 || o.PublicKey.ExcludeCredentials[0].ID != b64(k.id) {
			t.Fatalf("exclusions %s", opts)
		}
		wantKey(t, s.FinishPasskeyRegistration(ctx, uid, cid, "dup", k.create(t, opts, testOrigin)), "mfa.passkey_exists")

		// Sign in.
		c.Advance(time.Minute)
		opts, cid, err = s.BeginPasskeyLogin(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		if o := parseOptions(t, opts); o.PublicKey.RPID != testRPID || len(o.PublicKey.AllowCredentials) != 1 {
			t.Fatalf("login options %s", opts)
		}
		resp := k.get(t, opts, testOrigin, uid)
		if err := s.FinishPasskeyLogin(ctx, uid, cid, resp); err != nil {
			t.Fatalf("login: %v", err)
		}
		list, _ = s.ListPasskeys(ctx, uid)
		if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(c.Now()) {
			t.Fatalf("last use not recorded: %+v", list[0])
		}
		// Replaying the same answer: the challenge is gone.
		wantKey(t, s.FinishPasskeyLogin(ctx, uid, cid, resp), "mfa.challenge_expired")
		// Replaying it against a new challenge: the challenge does not match.
		_, cid2, err := s.BeginPasskeyLogin(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		wantFailure(t, s.FinishPasskeyLogin(ctx, uid, cid2, resp), "challenge")

		// A page on another origin cannot use the passkey.
		wantFailure(t, login(s, t, uid, k, "https://isac.example.jp.evil.test"), "origin")

		// Another user's challenge, or an expired one, is refused.
		opts, cid, err = s.BeginPasskeyLogin(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		wantKey(t, s.FinishPasskeyLogin(ctx, other, cid, k.get(t, opts, testOrigin, uid)), "mfa.challenge_expired")
		opts, cid, err = s.BeginPasskeyLogin(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(5*time.Minute + time.Second)
		wantKey(t, s.FinishPasskeyLogin(ctx, uid, cid, k.get(t, opts, testOrigin, uid)), "mfa.challenge_expired")

		// A second authenticator signed with the wrong key is refused.
		impostor := newSoftKey(t)
		impostor.id = k.id
		wantFailure(t, login(s, t, uid, impostor, testOrigin), "signature")

		if err := login(s, t, uid, k, testOrigin); err != nil {
			t.Fatalf("second login: %v", err)
		}

		// A counter going backwards looks like a copied key: refused and marked.
		k.count -= 3
		wantKey(t, login(s, t, uid, k, testOrigin), "mfa.passkey_cloned")
		list, _ = s.ListPasskeys(ctx, uid)
		if !list[0].CloneWarning {
			t.Fatal("clone warning not stored")
		}
		k.count += 10
		wantKey(t, login(s, t, uid, k, testOrigin), "mfa.passkey_cloned")

		// Rename and delete are scoped to the owner.
		if err := s.RenamePasskey(ctx, other, list[0].ID, "x"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("rename by other user: %v", err)
		}
		if err := s.RenamePasskey(ctx, uid, list[0].ID, "仕事用"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePasskey(ctx, other, list[0].ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("delete by other user: %v", err)
		}
		if _, err := s.RegenerateRecoveryCodes(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePasskey(ctx, uid, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if has, _ := s.HasSecondFactor(ctx, uid); has {
			t.Fatal("second factor after deleting the only passkey")
		}
		if n, _ := s.RemainingRecoveryCodes(ctx, uid); n != 0 {
			t.Fatalf("%d recovery codes after the last factor went", n)
		}
		if err := s.DeletePasskey(ctx, uid, list[0].ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestPasskeyRegistrationChecks(t *testing.T) {
	eachService(t, "p@example.jp", func(t *testing.T, d *db.DB, c *clock, s *Service, uid string) {
		ctx := context.Background()
		for name, tc := range map[string]struct {
			mutate func(k *softKey, opts json.RawMessage) []byte
			key    string
			why    string
		}{
			"wrong origin": {func(k *softKey, o json.RawMessage) []byte { return k.create(t, o, "https://evil.test") }, "mfa.passkey_failed", "origin"},
			"no user presence": {func(k *softKey, o json.RawMessage) []byte {
				k.flags = 0
				return k.create(t, o, testOrigin)
			}, "mfa.passkey_failed", "user presence"},
			"not JSON":  {func(k *softKey, o json.RawMessage) []byte { return []byte("{") }, "mfa.passkey_failed", "parse"},
			"too large": {func(k *softKey, o json.RawMessage) []byte { return make([]byte, 70<<10) }, "error.too_large", ""},
		} {
			t.Run(name, func(t *testing.T) {
				opts, cid, err := s.BeginPasskeyRegistration(ctx, uid, "p@example.jp", "")
				if err != nil {
					t.Fatal(err)
				}
				err = s.FinishPasskeyRegistration(ctx, uid, cid, "", tc.mutate(newSoftKey(t), opts))
				if tc.why != "" {
					wantFailure(t, err, tc.why)
				} else {
					wantKey(t, err, tc.key)
				}
			})
		}
		if list, _ := s.ListPasskeys(ctx, uid); len(list) != 0 {
			t.Fatalf("refused registrations stored: %+v", list)
		}
		opts, cid, err := s.BeginPasskeyRegistration(ctx, uid, "p@example.jp", "")
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(5*time.Minute + time.Second)
		wantKey(t, s.FinishPasskeyRegistration(ctx, uid, cid, "", newSoftKey(t).create(t, opts, testOrigin)), "mfa.challenge_expired")
		if _, _, err := s.BeginPasskeyRegistration(ctx, db.NewID(), "x@example.jp", ""); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

// TestPasskeyAcrossNodes begins each ceremony on one node and finishes it
// on another.
func TestPasskeyAcrossNodes(t *testing.T) {
	ctx := context.Background()
	u := dbtest.PostgresURL(t)
	var nodes []*Service
	c := newClock()
	var first *db.DB
	for i := range 2 {
		d, err := db.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if i == 0 {
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			first = d
		}
		nodes = append(nodes, newService(t, d, c))
	}
	uid := newUser(t, first, "n@example.jp")
	k := newSoftKey(t)
	opts, cid, err := nodes[0].BeginPasskeyRegistration(ctx, uid, "n@example.jp", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].FinishPasskeyRegistration(ctx, uid, cid, "", k.create(t, opts, testOrigin)); err != nil {
		t.Fatal(err)
	}
	opts, cid, err = nodes[1].BeginPasskeyLogin(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	resp := k.get(t, opts, testOrigin, uid)
	errs := make(chan error, 2)
	for _, n := range nodes {
		go func() { errs <- n.FinishPasskeyLogin(ctx, uid, cid, resp) }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("one answer accepted on two nodes should succeed once: %v, %v", e1, e2)
	}
	// Either node may answer first.
	loser := e1
	if loser == nil {
		loser = e2
	}
	if apperr.From(loser).Key != "mfa.challenge_expired" {
		t.Fatalf("loser: %v", loser)
	}
}
