package audit

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/i18n"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "audit.key")
	// Several nodes starting at once agree on one key.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = s.KeyID()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || len(id) != 16 {
			t.Fatalf("key ids differ: %v", ids)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("key folder mode %v", di.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".audit-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	s, err := LoadOrCreateKey(path)
	if err != nil || s.KeyID() != ids[0] {
		t.Fatalf("reload: %v %v", s, err)
	}
	pub, err := LoadPublicKey(path + ".pub")
	if err != nil || !pub.Equal(s.PublicKey()) || KeyIDOf(pub) != s.KeyID() {
		t.Fatalf("public key file: %v", err)
	}
	msg := []byte("m")
	if ok, known := s.verify(s.KeyID(), msg, s.sign(msg)); !ok || !known {
		t.Fatal("own signature rejected")
	}

	// A raw base64 seed, as an operator might provide through
	// MEDISAC_AUDIT_KEY_FILE, is accepted and gets its .pub written.
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	seedPath := filepath.Join(t.TempDir(), "seed.key")
	os.WriteFile(seedPath, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600)
	s2, err := LoadOrCreateKey(seedPath)
	if err != nil || s2.KeyID() != NewSigner(ed25519.NewKeyFromSeed(seed)).KeyID() {
		t.Fatalf("seed key: %v", err)
	}
	if _, err := os.Stat(seedPath + ".pub"); err != nil {
		t.Fatal(err)
	}
	if ok, known := s2.verify(s.KeyID(), msg, s.sign(msg)); ok || known {
		t.Fatal("untrusted key accepted")
	}
	if id := s2.Trust(s.PublicKey()); id != s.KeyID() {
		t.Fatalf("Trust returned %s", id)
	}
	if ok, known := s2.verify(s.KeyID(), msg, s.sign(msg)); !ok || !known {
		t.Fatal("trusted key rejected")
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	_, err = LoadOrCreateKey(bad)
	if ae := apperr.From(err); err == nil || ae.Key != "audit.error.key_file_invalid" {
		t.Fatalf("bad key file: %v", err)
	}
	cat := i18n.MustLoad()
	if msg := cat.T("ja", apperr.From(err).Key, apperr.From(err).Args...); !strings.Contains(msg, bad) {
		t.Fatalf("message does not name the file: %q", msg)
	}
}

func TestParsePrivateKey(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pubDER, _ := x509.MarshalPKIXPublicKey(priv.Public())
	full := append([]byte(nil), priv...)
	wrong := append([]byte(nil), priv...)
	wrong[40] ^= 1
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"pem", string(pemKey), true},
		{"seed base64", base64.StdEncoding.EncodeToString(priv.Seed()), true},
		{"seed base64 url raw", base64.RawURLEncoding.EncodeToString(priv.Seed()), true},
		{"full key base64", base64.StdEncoding.EncodeToString(full), true},
		{"full key not matching seed", base64.StdEncoding.EncodeToString(wrong), false},
		{"short", base64.StdEncoding.EncodeToString([]byte("short")), false},
		{"public pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), false},
		{"empty", "", false},
		{"garbage", "%%%", false},
	}
	for _, c := range cases {
		got, err := parsePrivateKey([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
		if c.ok && !got.Equal(priv) {
			t.Errorf("%s: different key", c.name)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(priv.Public())
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	f.Add([]byte(base64.StdEncoding.EncodeToString(priv.Seed())))
	f.Add([]byte(base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := parsePrivateKey(b); err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("private key of %d bytes", len(k))
		}
		if k, err := parsePublicKey(b); err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes", len(k))
		}
	})
}
