package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
)

// Signer signs audit checkpoints with an Ed25519 key and verifies them with
// its own public key and any keys it has been told to trust. Trust must be
// called before the Signer is shared; after that it is safe for concurrent
// use.
type Signer struct {
	priv    ed25519.PrivateKey
	keyID   string
	trusted map[string]ed25519.PublicKey
}

// NewSigner returns a Signer for priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	id := KeyIDOf(pub)
	return &Signer{priv: priv, keyID: id, trusted: map[string]ed25519.PublicKey{id: pub}}
}

// KeyIDOf returns the short identifier of a public key: the first 16 hex
// digits of the SHA-256 of its 32 bytes.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// KeyID returns the identifier of the signing key, stored with every
// checkpoint it signs.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Trust adds another public key (an earlier key, or another node's) whose
// checkpoints Verify accepts, and returns its key id.
func (s *Signer) Trust(pub ed25519.PublicKey) string {
	id := KeyIDOf(pub)
	s.trusted[id] = append(ed25519.PublicKey(nil), pub...)
	return id
}

func (s *Signer) sign(msg []byte) []byte { return ed25519.Sign(s.priv, msg) }

// verify reports whether sig is a valid signature of msg by the trusted key
// keyID; known is false when no such key is trusted.
func (s *Signer) verify(keyID string, msg, sig []byte) (ok, known bool) {
	if s == nil {
		return false, false
	}
	pub, found := s.trusted[keyID]
	if !found {
		return false, false
	}
	return ed25519.Verify(pub, msg, sig), true
}

// LoadOrCreateKey reads the Ed25519 private key at path, creating it (mode
// 0600, folder 0700) when the file does not exist. The file holds either a
// PEM "PRIVATE KEY" (PKCS #8) block or the base64 of the 32-byte seed (or
// 64-byte private key). The public key is written next to it as
// path+".pub" (PEM "PUBLIC KEY") for offline verifiers.
func LoadOrCreateKey(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = createKey(path)
	}
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "audit.error.key_file_read", path)
	}
	priv, err := parsePrivateKey(b)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "audit.error.key_file_invalid", path)
	}
	s := NewSigner(priv)
	if err := writePublicKey(path+".pub", s.PublicKey()); err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "audit.error.key_file_write", path+".pub")
	}
	return s, nil
}

// createKey writes a new key to path unless another process got there
// first, and returns the file's contents either way.
func createKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(dir, ".audit-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// A hard link never replaces an existing file, so two nodes starting
	// at once end up with the same key.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		f, err2 := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err2, fs.ErrExist) {
			return os.ReadFile(path)
		}
		if err2 != nil {
			return nil, fmt.Errorf("%v; %w", err, err2)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func writePublicKey(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-pub-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadPublicKey reads an Ed25519 public key written by LoadOrCreateKey
// (PEM "PUBLIC KEY") or given as the base64 of its 32 bytes, for
// Signer.Trust.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "audit.error.key_file_read", path)
	}
	pub, err := parsePublicKey(b)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "audit.error.key_file_invalid", path)
	}
	return pub, nil
}

// readKey reads a key file: an Ed25519 key K from a PEM block of type
// typ, or else the bytes of a base64 text (raw, with key left zero).
func readKey[K any](b []byte, typ string, parse func([]byte) (any, error)) (key K, raw []byte, err error) {
	block, _ := pem.Decode(b)
	if block == nil {
		raw, err = decodeBase64(b)
		return key, raw, err
	}
	if block.Type != typ {
		return key, nil, fmt.Errorf("PEM block %q, want %s", block.Type, typ)
	}
	k, err := parse(block.Bytes)
	if err != nil {
		return key, nil, err
	}
	key, isKey := k.(K)
	if !isKey {
		return key, nil, fmt.Errorf("key is %T, want Ed25519", k)
	}
	return key, nil, nil
}

func parsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	priv, raw, err := readKey[ed25519.PrivateKey](b, "PRIVATE KEY", x509.ParsePKCS8PrivateKey)
	if err != nil || raw == nil {
		return priv, err
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !bytes.Equal(priv, raw) {
			return nil, errors.New("private key does not match its seed")
		}
		return priv, nil
	}
	return nil, fmt.Errorf("base64 key is %d bytes, want %d or %d", len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
}

func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	pub, raw, err := readKey[ed25519.PublicKey](b, "PUBLIC KEY", x509.ParsePKIXPublicKey)
	if err != nil || raw == nil {
		return pub, err
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("base64 key is %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

func decodeBase64(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, errors.New("empty key file")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return raw, nil
		}
	}
	return nil, errors.New("neither PEM nor base64")
}
