package auth

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"

	"github.com/medisac/medisac/internal/apperr"
)

// Argon2Params are the Argon2id cost parameters. The defaults follow the
// OWASP Password Storage Cheat Sheet minimum (19 MiB, 2 passes, 1 lane),
// which keeps sign-in fast on a two-core clinic PC; the parameters are stored
// in every hash so they can be raised later without invalidating old ones.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is the parameter set used for new hashes.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// HashPassword returns the PHC-format Argon2id hash of password.
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the PHC-format hash. A
// malformed or empty hash never matches.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<21 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the account does not exist, so that the
// time taken does not reveal which e-mail addresses are registered.
var dummyHash = func() string {
	h, _ := HashPassword("medisac-dummy-password", DefaultArgon2)
	return h
}()

//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = true
	}
	return m
}()

// MinPasswordLength and LongPasswordLength are the MHLW checklist's rule:
// at least 8 characters mixing letters, digits and symbols, or 13 or more
// characters of any kind.
const (
	MinPasswordLength  = 8
	LongPasswordLength = 13
	MaxPasswordLength  = 256
)

// CheckPasswordPolicy returns nil when password may be used by a person
// with the given e-mail and display name, or an Invalid error on field
// "password" saying what is wrong.
func CheckPasswordPolicy(password, email, displayName string) error {
	n := len([]rune(password))
	if n > MaxPasswordLength {
		return apperr.Field("password", "auth.password.too_long", MaxPasswordLength)
	}
	if n < MinPasswordLength {
		return apperr.Field("password", "auth.password.too_short", MinPasswordLength, LongPasswordLength)
	}
	if n < LongPasswordLength {
		var letter, digit, symbol bool
		for _, r := range password {
			switch {
			case unicode.IsLetter(r):
				letter = true
			case unicode.IsDigit(r):
				digit = true
			case unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ':
				symbol = true
			}
		}
		if !letter || !digit || !symbol {
			return apperr.Field("password", "auth.password.mix", LongPasswordLength)
		}
	}
	if isCommonPassword(password) {
		return apperr.Field("password", "auth.password.common")
	}
	lower := strings.ToLower(password)
	local, domain, _ := strings.Cut(strings.ToLower(email), "@")
	var personal []string
	notAlnum := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	if len([]rune(local)) >= 3 {
		personal = append(personal, local)
	}
	for _, part := range strings.FieldsFunc(local, notAlnum) {
		if len([]rune(part)) >= 3 {
			personal = append(personal, part)
		}
	}
	if d, _, _ := strings.Cut(domain, "."); len(d) >= 4 {
		personal = append(personal, d)
		for _, part := range strings.FieldsFunc(d, notAlnum) {
			if len([]rune(part)) >= 4 {
				personal = append(personal, part)
			}
		}
	}
	for _, part := range strings.FieldsFunc(strings.ToLower(displayName), func(r rune) bool {
		return unicode.IsSpace(r) || r == '・' || r == '　'
	}) {
		if len([]rune(part)) >= 3 || (len([]rune(part)) >= 2 && !isASCII(part)) {
			personal = append(personal, part)
		}
	}
	if nm := strings.ToLower(strings.Join(strings.Fields(displayName), "")); len([]rune(nm)) >= 3 {
		personal = append(personal, nm)
	}
	for _, p := range personal {
		if strings.Contains(lower, p) || strings.Contains(deLeet(lower), deLeet(p)) {
			return apperr.Field("password", "auth.password.personal")
		}
	}
	return nil
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

var leet = strings.NewReplacer("0", "o", "1", "i", "!", "i", "|", "i", "3", "e", "4", "a", "@", "a", "$", "s", "5", "s", "7", "t", "+", "t", "8", "b", "9", "g")

func deLeet(s string) string { return leet.Replace(strings.ToLower(s)) }

// isCommonPassword reports whether password is on the embedded list, also
// after undoing common substitutions (P@ssw0rd) and stripping the digits
// and symbols people add at the ends (password123!, !2024hospital).
func isCommonPassword(password string) bool {
	lower := strings.ToLower(password)
	if commonPasswords[lower] {
		return true
	}
	trim := func(s string) string {
		return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	}
	base := trim(lower)
	if base == "" {
		// Only digits and symbols: a keyboard or number pattern.
		digits := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsDigit(r) })
		return commonPasswords[digits] || isSequence(digits) || isSequence(lower)
	}
	for _, cand := range []string{base, deLeet(lower), trim(deLeet(lower)), deLeet(base)} {
		if commonPasswords[cand] {
			return true
		}
		if len(cand) >= 4 && isSequence(cand) {
			return true
		}
	}
	return false
}

// isSequence reports whether s is one repeated character or a run of
// consecutive characters (abcdefg, 98765432).
func isSequence(s string) bool {
	r := []rune(s)
	if len(r) < 4 {
		return false
	}
	same, up, down := true, true, true
	for i := 1; i < len(r); i++ {
		same = same && r[i] == r[0]
		up = up && r[i] == r[i-1]+1
		down = down && r[i] == r[i-1]-1
	}
	return same || up || down
}
