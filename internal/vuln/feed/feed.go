// Package feed reads the files medisac imports: NVD CVE API 2.0 records,
// CISA KEV, FIRST EPSS, JVN iPedia, CSAF 2.0 and Fortinet advisories,
// plain or gzip/xz compressed, and tells their formats apart. Parsers
// validate a whole file and reject it with an *apperr.Error (keys
// vuln.feed.*); NVD configurations, vendor advisories and KEV entries
// are turned into match.Rules. Nothing here touches the database.
package feed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/ulikunitz/xz"
)

// MaxFeedBytes caps the decompressed size of one imported file (NVD's
// largest yearly feed is about 300 MB uncompressed; KEV is about 1.3 MB).
const MaxFeedBytes = 2 << 30

// MaxXMLBytes caps the size of one JVN XML document.
const MaxXMLBytes = 64 << 20

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,19}$`)

// reject returns the error by which a whole file is rejected: code
// Invalid, a message key from the vuln catalog, the feed name and a detail
// for the reader as arguments, and the cause kept for the log.
func Reject(key, feed string, cause error) error {
	detail := ""
	if cause != nil {
		detail = cause.Error()
		if len(detail) > 300 {
			detail = detail[:300] + "…"
		}
	}
	return apperr.Wrap(cause, apperr.Invalid, key, feed, detail)
}

func errDetail(format string, args ...any) error { return fmt.Errorf(format, args...) }

func errMissing(field string) error { return fmt.Errorf("required field %q is missing", field) }

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// FeedError returns the message key and detail of an error from a parser
// of this package, for showing why a file was rejected; ok is false for
// other errors.
func FeedError(err error) (key, detail string, ok bool) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || !strings.HasPrefix(ae.Key, "vuln.") {
		return "", "", false
	}
	if len(ae.Args) >= 2 {
		detail, _ = ae.Args[1].(string)
	}
	return ae.Key, detail, true
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Decompress returns r itself, or a reader of its gzip- or xz-decompressed
// content when it starts with the magic bytes of either (xz through
// github.com/ulikunitz/xz, a pure-Go decoder).
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Reject("vuln.feed.bad_compression", "gzip", err)
		}
		return &errReader{r: zr, name: "gzip"}, nil
	case bytes.HasPrefix(head, xzMagic):
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, Reject("vuln.feed.bad_compression", "xz", err)
		}
		return &errReader{r: zr, name: "xz"}, nil
	}
	return br, nil
}

// decodeJSON reads one JSON document of at most limit bytes from r
// (decompressed when it is compressed) into v; text that is not JSON is
// rejected as feed's (vuln.feed.not_json).
func decodeJSON(r io.Reader, limit int64, v any, feed string) error {
	r, err := Decompress(r)
	if err != nil {
		return err
	}
	if err := json.NewDecoder(io.LimitReader(r, limit)).Decode(v); err != nil {
		return Reject("vuln.feed.not_json", feed, err)
	}
	return nil
}

// errReader turns decompression errors into feed errors.
type errReader struct {
	r    io.Reader
	name string
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		return n, Reject("vuln.feed.bad_compression", e.name, err)
	}
	return n, err
}

// Format names a feed format that DetectFormat recognises.
type Format string

// The formats medisac imports.
const (
	FormatUnknown     Format = ""
	FormatNVD         Format = "nvd"
	FormatKEV         Format = "kev"
	FormatEPSS        Format = "epss"
	FormatJVNRSS      Format = "jvn-rss"
	FormatJVNVULDEF   Format = "jvn-vuldef"
	FormatMyJVNProds  Format = "myjvn-products"
	FormatCSAF        Format = "csaf"
	FormatCSAFMeta    Format = "csaf-provider-metadata"
	FormatFortinet    Format = "fortinet"
	FormatJVNChecksum Format = "jvn-checksum"
)

// DetectFormat names the format of a file from its first bytes (at least
// the first 4 KiB should be given; gzip and xz are looked through). name
// is used only to tell apart files whose content is ambiguous, such as a
// headerless EPSS CSV. It returns FormatUnknown when it cannot tell.
func DetectFormat(name string, head []byte) Format {
	if bytes.HasPrefix(head, gzipMagic) || bytes.HasPrefix(head, xzMagic) {
		head = peekDecompressed(head)
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	t := bytes.TrimLeft(head, " \t\r\n")
	lname := strings.ToLower(name)
	switch {
	case len(t) == 0:
		return FormatUnknown
	case t[0] == '<':
		s := string(t)
		switch {
		case strings.Contains(s, "<VULDEF-Document"):
			return FormatJVNVULDEF
		case strings.Contains(s, "<rdf:RDF") && (strings.Contains(s, "jvn.jp/rss/mod_sec") || strings.Contains(s, "jvnrss")):
			return FormatJVNRSS
		case strings.Contains(s, "jvndb.jvn.jp/myjvn/Results") && strings.Contains(s, "VendorInfo"):
			return FormatMyJVNProds
		}
		return FormatUnknown
	case t[0] == '{' || t[0] == '[':
		s := string(t)
		switch {
		case strings.Contains(s, `"csaf_version"`) || strings.Contains(s, `"category": "csaf_`) || strings.Contains(s, `"category":"csaf_`):
			return FormatCSAF
		case strings.Contains(s, `"canonical_url"`) && strings.Contains(s, `"metadata_version"`):
			return FormatCSAFMeta
		case strings.Contains(s, `"catalogVersion"`) || (strings.Contains(s, `"cveID"`) && strings.Contains(s, `"vendorProject"`)):
			return FormatKEV
		case fortinetID.MatchString(s):
			return FormatFortinet
		case strings.Contains(s, `"NVD_CVE"`) || strings.Contains(s, `"sourceIdentifier"`) || strings.Contains(s, `"cve_items"`) ||
			(strings.Contains(s, `"vulnerabilities"`) && strings.Contains(s, `"resultsPerPage"`)):
			return FormatNVD
		case strings.Contains(s, `"sha256"`) && strings.Contains(s, `"lastModified"`) && strings.Contains(s, `"filename"`):
			return FormatJVNChecksum
		}
		return FormatUnknown
	}
	line := t
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	l := strings.ToLower(strings.TrimSpace(string(line)))
	switch {
	case strings.HasPrefix(l, "#model_version"), strings.HasPrefix(l, "cve,epss"):
		return FormatEPSS
	case epssRow.MatchString(l) && (strings.Contains(lname, "epss") || strings.HasSuffix(lname, ".csv") || strings.Contains(lname, ".csv.")):
		return FormatEPSS
	}
	return FormatUnknown
}

var (
	fortinetID = regexp.MustCompile(`^\s*\{\s*"id"\s*:\s*"FG-IR-\d+-\d+"`)
	epssRow    = regexp.MustCompile(`^cve-\d{4}-\d{4,}[;,]\s*[0-9.e-]+[;,]?`)
)

func peekDecompressed(head []byte) []byte {
	var r io.Reader
	var err error
	if bytes.HasPrefix(head, gzipMagic) {
		r, err = gzip.NewReader(bytes.NewReader(head))
	} else {
		r, err = xz.NewReader(bytes.NewReader(head))
	}
	if err != nil {
		return nil
	}
	out := make([]byte, 8<<10)
	n, _ := io.ReadFull(r, out)
	return out[:n]
}
