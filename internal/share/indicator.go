package share

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/medisac/medisac/internal/apperr"
)

// IOCType is the type of an indicator.
type IOCType string

// The indicator types.
const (
	IOCIP       IOCType = "ip"
	IOCDomain   IOCType = "domain"
	IOCURL      IOCType = "url"
	IOCHash     IOCType = "hash"
	IOCEmail    IOCType = "email"
	IOCFilename IOCType = "filename"
)

// IOCTypes lists the indicator types in the order forms show them.
var IOCTypes = []IOCType{IOCIP, IOCDomain, IOCURL, IOCHash, IOCEmail, IOCFilename}

// Valid reports whether t is a known indicator type.
func (t IOCType) Valid() bool { return slices.Contains(IOCTypes, t) }

// maxIOC is the longest indicator value accepted, in bytes.
const maxIOC = 2048

var refanger = strings.NewReplacer(
	"hxxps", "https", "hXXps", "https", "HXXPS", "https", "hxxp", "http", "hXXp", "http", "HXXP", "http",
	"fxp", "ftp", "[://]", "://", "[:]", ":", "[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".",
	"[DOT]", ".", " . ", ".", "[@]", "@", "[at]", "@", "(at)", "@", "[AT]", "@", "\\.", ".",
)

// Refang undoes the usual defanging of indicators in reports: hxxp,
// [.], (dot), [@], [:] and the like.
func Refang(s string) string {
	return refanger.Replace(strings.TrimSpace(s))
}

var punycode = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(), idna.StrictDomainName(false))

// normalizeDomain lower-cases a host name, drops a trailing dot and turns
// international names into punycode (xn--).
func normalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if s == "" || strings.ContainsAny(s, " /\\@:\t") {
		return "", apperr.Field("indicators", "share.ioc.bad_domain", s)
	}
	a, err := punycode.ToASCII(s)
	if err != nil || a == "" || len(a) > 253 || !strings.Contains(a, ".") {
		return "", apperr.Field("indicators", "share.ioc.bad_domain", s)
	}
	for _, l := range strings.Split(a, ".") {
		if l == "" || len(l) > 63 {
			return "", apperr.Field("indicators", "share.ioc.bad_domain", s)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return "", apperr.Field("indicators", "share.ioc.bad_domain", s)
			}
		}
	}
	return a, nil
}

// NormalizeIOC returns the canonical form of an indicator value, against
// which indicators are correlated: refanged, lower-cased (hashes, domains,
// e-mail addresses, file names), IP addresses in their canonical text,
// international domain names in punycode, URLs with a lower-case scheme and
// host, no default port, no fragment and at least "/" as path.
func NormalizeIOC(t IOCType, raw string) (string, error) {
	if len(raw) > maxIOC {
		return "", apperr.Field("indicators", "share.ioc.too_long", maxIOC)
	}
	if !utf8.ValidString(raw) || strings.ContainsAny(raw, "\x00\r\n") {
		return "", apperr.Field("indicators", "share.ioc.bad_value", string(t))
	}
	s := Refang(raw)
	switch t {
	case IOCIP:
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return "", apperr.Field("indicators", "share.ioc.bad_ip", s)
			}
			return p.Masked().String(), nil
		}
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return "", apperr.Field("indicators", "share.ioc.bad_ip", s)
		}
		return a.Unmap().WithZone("").String(), nil
	case IOCDomain:
		return normalizeDomain(s)
	case IOCURL:
		return normalizeURL(s)
	case IOCHash:
		h := strings.ToLower(s)
		switch len(h) {
		case 32, 40, 64, 128:
		default:
			return "", apperr.Field("indicators", "share.ioc.bad_hash", s)
		}
		for _, r := range h {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return "", apperr.Field("indicators", "share.ioc.bad_hash", s)
			}
		}
		return h, nil
	case IOCEmail:
		at := strings.LastIndexByte(s, '@')
		if at <= 0 || at == len(s)-1 || strings.ContainsAny(s[:at], " <>\t") {
			return "", apperr.Field("indicators", "share.ioc.bad_email", s)
		}
		d, err := normalizeDomain(s[at+1:])
		if err != nil {
			return "", apperr.Field("indicators", "share.ioc.bad_email", s)
		}
		return strings.ToLower(s[:at]) + "@" + d, nil
	case IOCFilename:
		f := strings.ToLower(strings.TrimSpace(raw))
		if f == "" || strings.ContainsAny(f, "/\\") {
			return "", apperr.Field("indicators", "share.ioc.bad_filename", raw)
		}
		return f, nil
	}
	return "", apperr.Field("indicators", "share.ioc.bad_type", string(t))
}

func normalizeURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", apperr.Field("indicators", "share.ioc.bad_url", s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
		if a.Is6() && !a.Is4In6() {
			host = "[" + host + "]"
		}
	} else if host, err = normalizeDomain(host); err != nil {
		return "", apperr.Field("indicators", "share.ioc.bad_url", s)
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// DetectIOC guesses the type of an indicator written without one: an IP
// address, a hash, a URL, an e-mail address, a domain, else a file name.
func DetectIOC(raw string) IOCType {
	s := Refang(raw)
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return IOCIP
	}
	if _, err := NormalizeIOC(IOCHash, s); err == nil {
		return IOCHash
	}
	if strings.Contains(s, "://") {
		return IOCURL
	}
	if strings.Contains(s, "@") {
		return IOCEmail
	}
	if strings.Contains(s, "/") {
		return IOCURL
	}
	if _, err := normalizeDomain(s); err == nil {
		last := s[strings.LastIndexByte(s, '.')+1:]
		if !fileExtensions[strings.ToLower(last)] {
			return IOCDomain
		}
	}
	return IOCFilename
}

var fileExtensions = map[string]bool{"exe": true, "dll": true, "js": true, "vbs": true, "ps1": true, "bat": true,
	"doc": true, "docx": true, "docm": true, "xls": true, "xlsx": true, "xlsm": true, "pdf": true, "zip": true,
	"rar": true, "7z": true, "lnk": true, "iso": true, "scr": true, "hta": true, "jar": true, "msi": true, "txt": true}
