package inventory

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// ErrNotNmap is returned (wrapped) when bytes are not nmap XML output, are
// malformed, declare entities, or exceed the limits.
var ErrNotNmap = errors.New("inventory: not a usable nmap XML file")

// ErrNmapTooManyHosts is returned (wrapped) when a scan lists more than
// MaxNmapHosts hosts that are up; it also wraps ErrNotNmap.
var ErrNmapTooManyHosts = fmt.Errorf("%w: too many hosts", ErrNotNmap)

// NmapError returns the application error for an error of ParseNmap: too
// many hosts names the limit, anything else says the file is not usable
// nmap XML.
func NmapError(err error) *apperr.Error {
	if errors.Is(err, ErrNmapTooManyHosts) {
		return apperr.Wrap(err, apperr.Invalid, "inventory.nmap.too_many_hosts", MaxNmapHosts)
	}
	return apperr.Wrap(err, apperr.Invalid, "inventory.nmap.bad_file")
}

// MaxNmapHosts is the most hosts (that are up) one nmap file may list.
const MaxNmapHosts = maxNmapHosts

// MaxNmapSize is the default size limit of an nmap XML file (bytes).
const MaxNmapSize = 64 << 20

// Limits on one scan: hosts kept and ports kept per host.
const (
	maxNmapHosts = 65536
	maxNmapPorts = 4096
)

// NmapHost is one host that nmap found up, with its open ports.
type NmapHost struct {
	IPv4       string   `json:"ipv4"`
	IPv6       string   `json:"ipv6"`
	MAC        string   `json:"mac"`
	MACVendor  string   `json:"mac_vendor"`
	Hostnames  []string `json:"hostnames"`
	OSGuess    string   `json:"os_guess"`
	OSAccuracy int      `json:"os_accuracy"`
	OSType     string   `json:"os_type"`
	Ports      []Port   `json:"ports"`
	CPEs       []string `json:"cpes"`
}

// IP returns the host's IPv4 address, else its IPv6 address.
func (h NmapHost) IP() string {
	if h.IPv4 != "" {
		return h.IPv4
	}
	return h.IPv6
}

// NmapScan is a parsed nmap XML file.
type NmapScan struct {
	Scanner string     `json:"scanner"`
	Version string     `json:"version"`
	Start   time.Time  `json:"start"`
	Hosts   []NmapHost `json:"hosts"`
}

type xNmapHost struct {
	Status struct {
		State string `xml:"state,attr"`
	} `xml:"status"`
	Addresses []struct {
		Addr   string `xml:"addr,attr"`
		Type   string `xml:"addrtype,attr"`
		Vendor string `xml:"vendor,attr"`
	} `xml:"address"`
	Hostnames []struct {
		Name string `xml:"name,attr"`
	} `xml:"hostnames>hostname"`
	Ports []struct {
		Protocol string `xml:"protocol,attr"`
		PortID   int    `xml:"portid,attr"`
		State    struct {
			State string `xml:"state,attr"`
		} `xml:"state"`
		Service struct {
			Name      string   `xml:"name,attr"`
			Product   string   `xml:"product,attr"`
			Version   string   `xml:"version,attr"`
			ExtraInfo string   `xml:"extrainfo,attr"`
			CPE       []string `xml:"cpe"`
		} `xml:"service"`
	} `xml:"ports>port"`
	OS struct {
		Matches []struct {
			Name     string `xml:"name,attr"`
			Accuracy int    `xml:"accuracy,attr"`
			Classes  []struct {
				Type     string   `xml:"type,attr"`
				Accuracy int      `xml:"accuracy,attr"`
				CPE      []string `xml:"cpe"`
			} `xml:"osclass"`
		} `xml:"osmatch"`
		Classes []struct {
			Type     string `xml:"type,attr"`
			Vendor   string `xml:"vendor,attr"`
			Family   string `xml:"osfamily,attr"`
			Gen      string `xml:"osgen,attr"`
			Accuracy int    `xml:"accuracy,attr"`
		} `xml:"osclass"`
	} `xml:"os"`
}

// ParseNmap reads nmap XML output (any xmloutputversion from 1.01) from r,
// at most maxBytes bytes (MaxNmapSize when 0). It keeps hosts whose status
// is up, with their open ports. External and internal entity declarations
// are refused; a malformed file is an error wrapping ErrNotNmap.
func ParseNmap(r io.Reader, maxBytes int64) (*NmapScan, error) {
	if maxBytes <= 0 {
		maxBytes = MaxNmapSize
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotNmap, maxBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("encoding %s not supported", label)
	}
	scan := &NmapScan{Hosts: []NmapHost{}}
	sawRoot := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotNmap, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(bytes.ToUpper(t), []byte("ENTITY")) {
				return nil, fmt.Errorf("%w: entity declarations are not allowed", ErrNotNmap)
			}
		case xml.StartElement:
			switch t.Name.Local {
			case "nmaprun":
				sawRoot = true
				scan.Scanner, scan.Version = attr(t, "scanner"), attr(t, "version")
				if s, err := strconv.ParseInt(attr(t, "start"), 10, 64); err == nil && s > 0 {
					scan.Start = time.Unix(s, 0).UTC()
				}
			case "host":
				if !sawRoot {
					return nil, fmt.Errorf("%w: host outside nmaprun", ErrNotNmap)
				}
				var xh xNmapHost
				if err := dec.DecodeElement(&xh, &t); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrNotNmap, err)
				}
				if xh.Status.State != "up" && xh.Status.State != "" {
					continue
				}
				if len(scan.Hosts) >= maxNmapHosts {
					return nil, fmt.Errorf("%w: more than %d", ErrNmapTooManyHosts, maxNmapHosts)
				}
				if h, ok := convertHost(xh); ok {
					scan.Hosts = append(scan.Hosts, h)
				}
			}
		}
	}
	if !sawRoot {
		return nil, fmt.Errorf("%w: no nmaprun element", ErrNotNmap)
	}
	return scan, nil
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

func convertHost(x xNmapHost) (NmapHost, bool) {
	h := NmapHost{Hostnames: []string{}, Ports: []Port{}, CPEs: []string{}}
	for _, a := range x.Addresses {
		switch a.Type {
		case "ipv4":
			h.IPv4 = clip(a.Addr, 64)
		case "ipv6":
			h.IPv6 = clip(a.Addr, 64)
		case "mac":
			h.MAC, h.MACVendor = normalizeMAC(clip(a.Addr, 64)), clip(a.Vendor, 200)
		}
	}
	if h.IPv4 == "" && h.IPv6 == "" && h.MAC == "" {
		return h, false
	}
	seen := map[string]bool{}
	for _, n := range x.Hostnames {
		if n.Name = clip(n.Name, 255); n.Name != "" && !seen[n.Name] {
			seen[n.Name] = true
			h.Hostnames = append(h.Hostnames, n.Name)
		}
	}
	cpes := map[string]bool{}
	for _, p := range x.Ports {
		if p.State.State != "open" || p.PortID < 0 || p.PortID > 65535 || len(h.Ports) >= maxNmapPorts {
			continue
		}
		version := strings.TrimSpace(strings.TrimSpace(p.Service.Version + " " + p.Service.ExtraInfo))
		h.Ports = append(h.Ports, Port{Port: p.PortID, Protocol: clip(strings.ToLower(p.Protocol), 8), Service: clip(p.Service.Name, 64),
			Product: clip(p.Service.Product, 200), Version: clip(version, 200)})
		for _, c := range p.Service.CPE {
			cpes[clip(c, 300)] = true
		}
	}
	sortPorts(h.Ports)
	best := -1
	for _, m := range x.OS.Matches {
		if m.Accuracy > best {
			best = m.Accuracy
			h.OSGuess, h.OSAccuracy = clip(m.Name, 200), m.Accuracy
			h.OSType = ""
			if len(m.Classes) > 0 {
				h.OSType = m.Classes[0].Type
				for _, c := range m.Classes[0].CPE {
					cpes[clip(c, 300)] = true
				}
			}
		}
	}
	if h.OSGuess == "" {
		for _, c := range x.OS.Classes {
			if c.Accuracy > best {
				best = c.Accuracy
				h.OSGuess = clip(strings.TrimSpace(c.Vendor+" "+c.Family+" "+c.Gen), 200)
				h.OSAccuracy, h.OSType = c.Accuracy, c.Type
			}
		}
	} else if h.OSType == "" && len(x.OS.Classes) > 0 {
		h.OSType = x.OS.Classes[0].Type
	}
	h.OSType = clip(h.OSType, 64)
	for c := range cpes {
		if c != "" {
			h.CPEs = append(h.CPEs, c)
		}
	}
	sort.Strings(h.CPEs)
	return h, true
}

// NmapProposal is what one scanned host would change in the register: a
// new asset (Status RowNew, Proposed filled) or observed changes to an
// existing asset (RowChanged, AssetID and Changes), or nothing
// (RowUnchanged). Index is the host's position in the scan, used to accept
// proposals in ApplyNmap.
type NmapProposal struct {
	Index     int           `json:"index"`
	Host      NmapHost      `json:"host"`
	Status    RowStatus     `json:"status"`
	AssetID   string        `json:"asset_id,omitempty"`
	AssetName string        `json:"asset_name"`
	MatchedBy string        `json:"matched_by,omitempty"`
	Changes   []FieldChange `json:"changes"`
	Proposed  Asset         `json:"proposed"`
}

func kindFromOSType(t string) AssetKind {
	switch strings.ToLower(t) {
	case "router", "switch", "firewall", "broadband router", "software router", "wap", "load balancer", "bridge", "proxy server", "security-misc", "terminal server", "vpn":
		return KindNetwork
	case "printer", "print server":
		return KindPrinter
	case "webcam", "media device", "voip phone", "voip gateway", "power-device", "specialized", "game console", "storage-misc":
		return KindIoT
	case "general purpose":
		return KindOther
	}
	return KindOther
}

// PreviewNmap compares a scan with the organisation's register. A host
// matches the one asset with the same MAC address, else the same IP
// address, else the same hostname (case-insensitive, also by the part
// before the first dot); ambiguous matches count as no match. For a
// matched asset the observed IP, MAC, hostname (when empty), OS guess and
// open ports are proposed as changes; other fields are left alone.
func PreviewNmap(ctx context.Context, q db.Querier, orgID string, scan *NmapScan) ([]NmapProposal, error) {
	assets, err := AllAssets(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	index := func(key func(Asset) string) map[string][]int {
		m := map[string][]int{}
		for i, a := range assets {
			if k := key(a); k != "" {
				m[k] = append(m[k], i)
			}
		}
		return m
	}
	byMAC := index(func(a Asset) string { return a.MAC })
	byIP := index(func(a Asset) string { return a.IP })
	byHost := index(func(a Asset) string { return strings.ToLower(a.Hostname) })
	byShort := index(func(a Asset) string { h, _, _ := strings.Cut(strings.ToLower(a.Hostname), "."); return h })
	names := map[string]bool{}
	for _, a := range assets {
		names[a.Name] = true
	}
	out := make([]NmapProposal, 0, len(scan.Hosts))
	for i, h := range scan.Hosts {
		p := NmapProposal{Index: i, Host: h, Changes: []FieldChange{}}
		match := -1
		try := func(m map[string][]int, key, by string) {
			if match < 0 && key != "" && len(m[key]) == 1 {
				match, p.MatchedBy = m[key][0], by
			}
		}
		try(byMAC, h.MAC, "mac")
		try(byIP, h.IP(), "ip")
		for _, n := range h.Hostnames {
			try(byHost, strings.ToLower(n), "hostname")
			short, _, _ := strings.Cut(strings.ToLower(n), ".")
			try(byShort, short, "hostname")
		}
		if match >= 0 {
			before := assets[match]
			after := observe(before, h)
			p.AssetID, p.AssetName = before.ID, before.Name
			p.Changes = diffAssets(&before, &after)
			p.Proposed = after
			p.Status = RowUnchanged
			if len(p.Changes) > 0 {
				p.Status = RowChanged
			}
		} else {
			a := observe(Asset{Kind: kindFromOSType(h.OSType)}, h)
			a.Name = uniqueName(proposedName(h), names)
			names[a.Name] = true
			if h.MACVendor != "" {
				a.Notes = "MAC: " + h.MACVendor
			}
			if err := a.normalize(); err != nil {
				return nil, err
			}
			p.AssetName, p.Proposed, p.Status = a.Name, a, RowNew
			p.Changes = diffAssets(&Asset{}, &a)
		}
		out = append(out, p)
	}
	return out, nil
}

func proposedName(h NmapHost) string {
	if len(h.Hostnames) > 0 {
		return h.Hostnames[0]
	}
	if ip := h.IP(); ip != "" {
		return ip
	}
	return h.MAC
}

func uniqueName(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for n := 2; ; n++ {
		if s := base + " (" + strconv.Itoa(n) + ")"; !taken[s] {
			return s
		}
	}
}

// observe returns a with what the scan saw of it.
func observe(a Asset, h NmapHost) Asset {
	if ip := h.IP(); ip != "" {
		a.IP = ip
	}
	if h.MAC != "" {
		a.MAC = h.MAC
	}
	if a.Hostname == "" && len(h.Hostnames) > 0 {
		a.Hostname = h.Hostnames[0]
	}
	if h.OSGuess != "" {
		a.OSGuess = h.OSGuess
	}
	a.OpenPorts = append([]Port{}, h.Ports...)
	return a
}

// ImportNmapFile parses an nmap XML file and, unless dryRun, applies every
// new and changed proposal on d in short transactions (for the command
// line, where there is no review screen). It returns all proposals; a file
// that is not usable nmap XML is an Invalid error (see NmapError).
func ImportNmapFile(ctx context.Context, d *db.DB, orgID, actorID string, data []byte, dryRun bool, now time.Time) ([]NmapProposal, error) {
	scan, err := ParseNmap(bytes.NewReader(data), MaxNmapSize)
	if err != nil {
		return nil, NmapError(err)
	}
	if dryRun {
		return PreviewNmap(ctx, d, orgID, scan)
	}
	st := &stager{d: d, now: fixedClock(now)}
	props, _, err := applyNmap(ctx, st, orgID, scan, nil, func(_, _ []NmapProposal) stagedEntry { return stagedEntry{History: actorID} })
	return props, err
}

// DetectFormat names the kind of an import file from its name and first
// bytes: "xlsx", "nmap" (XML) or "csv".
func DetectFormat(filename string, data []byte) string {
	name := strings.ToLower(filename)
	head := bytes.TrimSpace(data[:min(len(data), 512)])
	head = bytes.TrimPrefix(head, []byte("\uFEFF"))
	switch {
	case strings.HasSuffix(name, ".xlsx") || bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "xlsx"
	case strings.HasSuffix(name, ".xml") || bytes.HasPrefix(head, []byte("<?xml")) || bytes.HasPrefix(head, []byte("<nmaprun")):
		return "nmap"
	}
	return "csv"
}
