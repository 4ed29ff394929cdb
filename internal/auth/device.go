package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// DeviceTTL is how long a device cookie stays valid after the sign-in that
// issued it.
const DeviceTTL = 180 * 24 * time.Hour

// Devices issues and checks device cookies (the OWASP "device cookie"
// defence against password guessing): after a successful sign-in the
// browser gets a signed cookie naming the account. A later sign-in to that
// account from that browser is exempt from the per-address limit and from
// the account's lock for unknown browsers, and has its own failure count.
// An attacker guessing passwords from the hospital's shared address thus
// locks out only browsers that never signed in to the account before.
type Devices struct {
	key []byte
}

// NewDevices derives the signing key from a node secret shared by every node
// of the installation.
func NewDevices(secret []byte) *Devices {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("medisac device cookie v1"))
	return &Devices{key: m.Sum(nil)}
}

func (d *Devices) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// CookieName is the name of the device cookie for an account: one cookie
// per account, so that several people can share a computer. The name does
// not show the address.
func (d *Devices) CookieName(email string) string {
	return "medisac_dev_" + hex.EncodeToString(d.mac("name", normEmail(email)))[:16]
}

// Issue returns a new device cookie value for email, valid for DeviceTTL.
func (d *Devices) Issue(email string, now time.Time) string {
	var p [24]byte
	_, _ = rand.Read(p[:16])
	binary.BigEndian.PutUint64(p[16:], uint64(now.Add(DeviceTTL).Unix()))
	payload := base64.RawURLEncoding.EncodeToString(p[:])
	return payload + "." + base64.RawURLEncoding.EncodeToString(d.mac("device", normEmail(email), payload))
}

// Check verifies a device cookie value for email and returns the device's
// id, which keys its own failure count.
func (d *Devices) Check(email, value string, now time.Time) (string, bool) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > 200 {
		return "", false
	}
	p, err1 := base64.RawURLEncoding.DecodeString(payload)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || len(p) != 24 || !hmac.Equal(s, d.mac("device", normEmail(email), payload)) {
		return "", false
	}
	if !now.Before(time.Unix(int64(binary.BigEndian.Uint64(p[16:])), 0)) {
		return "", false
	}
	return hex.EncodeToString(p[:16]), true
}

// normEmail is the address as the throttle and device cookies key it:
// normalised when valid, else trimmed and lower-cased, so that malformed
// input is counted too.
func normEmail(email string) string {
	if n, err := NormalizeEmail(email); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// AccountKey is the throttle key of an e-mail address, known or not: a hash
// of the normalised address, so that the table neither holds nor reveals
// which addresses were tried.
func AccountKey(email string) string {
	h := sha256.Sum256([]byte(normEmail(email)))
	return "acct:" + hex.EncodeToString(h[:16])
}
