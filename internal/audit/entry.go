package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// GenesisHash is the PrevHash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// hashTimeFormat is the fixed-width form of Entry.At inside the hash.
const hashTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

const hashDomain = "medisac.audit.v1\x00"

// Limits on the text stored per entry; longer values are cut.
const (
	maxShort     = 256
	maxActor     = 320
	maxUserAgent = 512
	maxDetails   = 64 << 10
)

// Entry is one audit record. Seq, At, PrevHash and Hash are set by Append;
// the rest describe who did what to which object, from where, with what
// result.
type Entry struct {
	Seq        int64
	At         time.Time
	ActorID    string
	Actor      string
	OrgID      string
	Action     string
	ObjectType string
	ObjectID   string
	Outcome    string
	IP         string
	UserAgent  string
	Details    map[string]any
	PrevHash   string
	Hash       string
}

// ValidAction reports whether a is a well-formed action name: lower-case
// dotted words of letters, digits and underscores, such as "auth.signin".
func ValidAction(a string) bool {
	if a == "" || len(a) > maxShort {
		return false
	}
	for _, part := range strings.Split(a, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ValidOutcome reports whether o is Success, Failure or Denied.
func ValidOutcome(o string) bool {
	return o == Success || o == Failure || o == Denied
}

// clean makes s storable on both databases (valid UTF-8, no NUL, which
// PostgreSQL text refuses) and cuts it to at most max runes.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

// prepare validates e, cleans its text fields and returns the details as
// stored JSON text.
func (e *Entry) prepare() (string, error) {
	if !ValidAction(e.Action) {
		return "", apperr.New(apperr.Invalid, "audit.error.action", e.Action)
	}
	if !ValidOutcome(e.Outcome) {
		return "", apperr.New(apperr.Invalid, "audit.error.outcome", e.Outcome)
	}
	e.ActorID = clean(e.ActorID, maxShort)
	e.Actor = clean(e.Actor, maxActor)
	e.OrgID = clean(e.OrgID, maxShort)
	e.ObjectType = clean(e.ObjectType, maxShort)
	e.ObjectID = clean(e.ObjectID, maxShort)
	e.IP = clean(e.IP, maxShort)
	e.UserAgent = clean(e.UserAgent, maxUserAgent)
	if len(e.Details) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "audit.error.details")
	}
	if len(b) > maxDetails {
		return "", apperr.New(apperr.TooLarge, "audit.error.details_too_large", maxDetails)
	}
	return string(b), nil
}

// entryHash returns the chain hash of e with the given stored details text
// and e.PrevHash, as described in the package documentation.
func entryHash(e *Entry, details string) string {
	var buf bytes.Buffer
	buf.Grow(256 + len(details) + len(e.UserAgent))
	buf.WriteString(hashDomain)
	var n [4]byte
	put := func(s string) {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		buf.Write(n[:])
		buf.WriteString(s)
	}
	put(strconv.FormatInt(e.Seq, 10))
	put(e.At.UTC().Format(hashTimeFormat))
	put(e.ActorID)
	put(e.Actor)
	put(e.OrgID)
	put(e.Action)
	put(e.ObjectType)
	put(e.ObjectID)
	put(e.Outcome)
	put(e.IP)
	put(e.UserAgent)
	put(details)
	put(e.PrevHash)
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}
