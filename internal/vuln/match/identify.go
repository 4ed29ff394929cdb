package match

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/version"
)

//go:embed data/aliases.json
var defaultAliasesJSON []byte

// AliasFile is the JSON shape of the alias table (data/aliases.json, or a
// file operators edit): vendor spellings to CPE vendors, renamed CPE
// products, and product spellings to CPE identity templates.
type AliasFile struct {
	Vendors  []VendorAlias  `json:"vendors"`
	Renames  []RenameAlias  `json:"renames,omitempty"`
	Products []ProductAlias `json:"products"`
}

// VendorAlias maps spellings of a vendor (Japanese, English, former
// names) to its CPE vendor.
type VendorAlias struct {
	CPE   string   `json:"cpe"`
	Names []string `json:"names"`
}

// RenameAlias says that NVD also (or now) names the product From as To
// ("vendor:product" each), as when Pulse Secure became Ivanti.
type RenameAlias struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ProductAlias maps spellings of a product or model prefixes of a vendor
// to identity templates. A template is a CPE 2.3 name with placeholders:
// {version} (the version in the vendor scheme's canonical form), {model}
// (the model without ModelPrefixes, lower case, spaces as "_"), {edition}
// (Citrix "fips"/"ndcpp" from the version, else "-"), {esxi_version} and
// {esxi_update} (ESXi "7.0 Update 3" as NVD splits it), and {windows}
// (the Windows identities derived from the build number).
type ProductAlias struct {
	Vendor        string   `json:"vendor"`
	Names         []string `json:"names"`
	ModelPrefixes []string `json:"model_prefixes,omitempty"`
	Identities    []string `json:"identities"`
}

// Aliases is a loaded alias table. Its content can be replaced while
// other goroutines use it (Replace); every method reads one consistent
// table.
type Aliases struct {
	reg *version.Registry

	mu sync.RWMutex
	t  *aliasTable
}

// aliasTable is the immutable content of an Aliases.
type aliasTable struct {
	vendors  map[string]string
	renames  map[string][]string
	products []ProductAlias
	version  string
	raw      []byte
	file     AliasFile
}

func (a *Aliases) tab() *aliasTable {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.t
}

// Replace makes a use the table of b from now on; calls already running
// finish with the table they started with. The version registry of a is
// kept.
func (a *Aliases) Replace(b *Aliases) {
	t := b.tab()
	a.mu.Lock()
	a.t = t
	a.mu.Unlock()
}

// Snapshot returns an Aliases fixed to the table in use now, for work
// that must read one table throughout (a full re-match) while a may be
// replaced.
func (a *Aliases) Snapshot() *Aliases { return &Aliases{reg: a.reg, t: a.tab()} }

// Registry returns the version schemes the table was loaded with.
func (a *Aliases) Registry() *version.Registry { return a.reg }

// Version identifies the table's content (a hash of the file it was
// loaded from): identities derived under another version are derived
// again.
func (a *Aliases) Version() string { return a.tab().version }

// JSON returns the file the table was loaded from.
func (a *Aliases) JSON() []byte { return bytes.Clone(a.tab().raw) }

// File returns a copy of the table's entries, for editing.
func (a *Aliases) File() AliasFile {
	f := a.tab().file
	out := AliasFile{Vendors: make([]VendorAlias, len(f.Vendors)), Renames: slices.Clone(f.Renames), Products: make([]ProductAlias, len(f.Products))}
	for i, v := range f.Vendors {
		out.Vendors[i] = VendorAlias{CPE: v.CPE, Names: slices.Clone(v.Names)}
	}
	for i, p := range f.Products {
		out.Products[i] = ProductAlias{Vendor: p.Vendor, Names: slices.Clone(p.Names), ModelPrefixes: slices.Clone(p.ModelPrefixes), Identities: slices.Clone(p.Identities)}
	}
	return out
}

// EncodeAliases writes f as an alias table file (indented JSON, one entry
// per line group), ready for LoadAliases.
func EncodeAliases(f AliasFile) []byte {
	if f.Vendors == nil {
		f.Vendors = []VendorAlias{}
	}
	if f.Products == nil {
		f.Products = []ProductAlias{}
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return append(b, '\n')
}

// ShippedAliasesJSON returns the alias table file shipped with medisac.
func ShippedAliasesJSON() []byte { return bytes.Clone(defaultAliasesJSON) }

// DefaultAliases returns the alias table shipped with medisac.
func DefaultAliases() *Aliases {
	a, err := LoadAliases(bytes.NewReader(defaultAliasesJSON), version.Default())
	if err != nil {
		panic(fmt.Sprintf("vuln: embedded aliases: %v", err))
	}
	return a
}

// LoadAliases reads an alias table in the AliasFile JSON shape. Versions
// are written in canonical form with reg's schemes. It rejects a file
// that is not such JSON, entries without a CPE vendor, spellings or
// identities, a spelling given to two vendors, and templates that do not
// give a CPE name; the error (code Invalid, keys "vulnalias.err.*") names
// the entry.
func LoadAliases(r io.Reader, reg *version.Registry) (*Aliases, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxAliasesSize+1))
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "vulnalias.err.read", clipLabel(err.Error()))
	}
	if len(raw) > maxAliasesSize {
		return nil, apperr.New(apperr.TooLarge, "vulnalias.err.too_large", maxAliasesSize>>20)
	}
	var f AliasFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "vulnalias.err.json", jsonLine(raw, err), clipLabel(err.Error()))
	}
	if dec.More() {
		return nil, apperr.New(apperr.Invalid, "vulnalias.err.json", jsonLine(raw, nil), "more than one JSON value")
	}
	sum := sha256.Sum256(raw)
	t := &aliasTable{vendors: map[string]string{}, renames: map[string][]string{}, version: hex.EncodeToString(sum[:8]), raw: raw, file: f}
	owner := map[string]string{}
	for i, v := range f.Vendors {
		label := strings.Join(v.Names, ", ")
		if strings.TrimSpace(v.CPE) == "" {
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.vendor_cpe", i+1, clipLabel(label))
		}
		if !cpeWordRe.MatchString(v.CPE) {
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.vendor_cpe_bad", i+1, clipLabel(label), clipLabel(v.CPE))
		}
		for _, n := range append([]string{v.CPE}, v.Names...) {
			k := NameKey(n)
			if k == "" {
				return nil, apperr.New(apperr.Invalid, "vulnalias.err.spelling_empty", i+1, v.CPE, clipLabel(n))
			}
			if o, ok := owner[k]; ok && o != v.CPE {
				return nil, apperr.New(apperr.Invalid, "vulnalias.err.spelling_conflict", clipLabel(n), o, v.CPE)
			}
			owner[k] = v.CPE
			t.vendors[k] = v.CPE
		}
	}
	for i, rn := range f.Renames {
		fv, fp, ok1 := strings.Cut(rn.From, ":")
		tv, tp, ok2 := strings.Cut(rn.To, ":")
		if !ok1 || !ok2 || !cpeWordRe.MatchString(fv) || !cpeWordRe.MatchString(tv) || fp == "" || tp == "" {
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.rename", i+1, clipLabel(rn.From), clipLabel(rn.To))
		}
		t.renames[rn.From] = append(t.renames[rn.From], rn.To)
	}
	for i, p := range f.Products {
		label := strings.Join(p.Names, ", ")
		switch {
		case !cpeWordRe.MatchString(p.Vendor):
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.product_vendor", i+1, clipLabel(label), clipLabel(p.Vendor))
		case len(p.Names) == 0 || slices.ContainsFunc(p.Names, func(n string) bool { return NameKey(n) == "" }):
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.product_names", i+1, p.Vendor, clipLabel(label))
		case len(p.Identities) == 0:
			return nil, apperr.New(apperr.Invalid, "vulnalias.err.product_identities", i+1, p.Vendor, clipLabel(label))
		}
		for _, tpl := range p.Identities {
			if tpl == "{windows}" {
				continue
			}
			probe := strings.NewReplacer("{version}", "1.0", "{model}", "m", "{edition}", "-", "{esxi_version}", "7.0", "{esxi_update}", "-").Replace(tpl)
			if _, err := cpe.Parse(probe); err != nil || strings.Count(tpl, ":") < 4 {
				detail := "not a CPE 2.3 name"
				if err != nil {
					detail = err.Error()
				}
				return nil, apperr.New(apperr.Invalid, "vulnalias.err.template", i+1, p.Vendor, clipLabel(label), clipLabel(tpl), clipLabel(detail))
			}
		}
		t.products = append(t.products, p)
	}
	return &Aliases{reg: reg, t: t}, nil
}

// maxAliasesSize bounds an alias table file.
const maxAliasesSize = 4 << 20

// cpeWordRe is what a CPE vendor of the table may be: a CPE word in lower
// case, as NVD writes it.
var cpeWordRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]*$`)

// jsonLine returns the line of raw where a JSON error happened (1 when
// unknown).
func jsonLine(raw []byte, err error) int {
	off := int64(len(raw))
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case err != nil:
		return 1
	}
	off = min(max(off, 0), int64(len(raw)))
	return bytes.Count(raw[:off], []byte("\n")) + 1
}

// Candidate is one CPE identity proposed for an asset, with how it was
// derived, for the user to confirm or correct.
type Candidate struct {
	Name cpe.Name `json:"-"`
	// CPE is Name in the formatted-string binding.
	CPE string `json:"cpe"`
	// Source is "cpe" (the asset's own CPE), "rename" (NVD's other name for
	// that product), "alias" (the alias table), "windows" (Windows build
	// table) or "guess" (vendor known, product spelled as entered).
	Source string `json:"source"`
	// Rule says in words which entry produced it.
	Rule string `json:"rule"`
}

// Identify proposes CPE identities for an asset from its CPE field or its
// vendor, product, model and version as people enter them (full-width or
// half-width, any case, katakana or hiragana, with or without 株式会社).
// Candidates come best first: the given CPE, its renamed forms, alias
// table identities, then guesses. It returns nil when nothing is known.
func (a *Aliases) Identify(vendor, product, model, ver, cpeStr string) []Candidate {
	return a.tab().identify(a.reg, vendor, product, model, ver, cpeStr)
}

func (t *aliasTable) identify(reg *version.Registry, vendor, product, model, ver, cpeStr string) []Candidate {
	var out []Candidate
	seen := map[string]bool{}
	add := func(n cpe.Name, source, rule string) {
		s := n.FormatFS()
		if seen[s] {
			return
		}
		seen[s] = true
		out = append(out, Candidate{Name: n, CPE: s, Source: source, Rule: rule})
	}
	if strings.TrimSpace(cpeStr) != "" {
		if n, err := cpe.Parse(strings.TrimSpace(cpeStr)); err == nil {
			add(n, "cpe", "CPE as registered")
			for _, to := range t.renames[cpe.Unquote(n.Key())] {
				v, p, _ := strings.Cut(to, ":")
				m := n
				m[cpe.Vendor], m[cpe.Product] = cpe.StrValue(v), cpe.StrValue(p)
				add(m, "rename", "also named "+to+" by NVD")
			}
		}
	}
	vendorCPE, pa, how, pkey := t.matchProduct(vendor, product, model)
	if pa != nil {
		for _, tpl := range pa.Identities {
			for _, c := range expand(reg, pa, tpl, product, model, ver) {
				add(c.Name, c.Source, fmt.Sprintf("%s (%s)", how, c.Rule))
			}
		}
		return out
	}
	if vendorCPE != "" && pkey != "" {
		p := CPEWord(product)
		if p == "" || !isASCII(p) {
			p = CPEWord(model)
		}
		if p == "" || !isASCII(p) {
			return out
		}
		for _, part := range []string{"o", "a"} {
			n := cpe.Name{}
			n[cpe.Part] = cpe.StrValue(part)
			n[cpe.Vendor] = cpe.StrValue(vendorCPE)
			n[cpe.Product] = cpe.StrValue(p)
			n[cpe.Version] = cpe.StrValue(CPEWord(normWidth(strings.TrimSpace(ver))))
			add(n, "guess", fmt.Sprintf("vendor %q is %s; product as entered", vendor, vendorCPE))
		}
	}
	return out
}

// vendorFor returns the CPE vendor for a vendor name, trying the whole
// name, the name without a parenthesised part ("General Electric (GE)")
// and the parenthesised part, each also without a corporate suffix.
// Names returns the CPE names of candidates, for NewTarget.
func Names(cs []Candidate) []cpe.Name {
	out := make([]cpe.Name, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// ProductUse says how many registered assets a product alias of the table
// identifies.
type ProductUse struct {
	// Index is the entry's position in AliasFile.Products.
	Index  int
	Assets int
}

// matchProduct finds the CPE vendor and the product alias of an entered
// vendor, product and model, as Identify does; how says which entry
// matched and pkey is the product key it matched with.
func (t *aliasTable) matchProduct(vendor, product, model string) (vendorCPE string, pa *ProductAlias, how, pkey string) {
	vendorCPE = t.vendorFor(vendor)
	pkey, mkey := NameKey(product), NameKey(model)
	pa, how = t.productFor(vendorCPE, pkey, mkey)
	if pa == nil && vendorCPE != "" {
		pkey = stripVendor(pkey, t, vendorCPE)
		mkey = stripVendor(mkey, t, vendorCPE)
		pa, how = t.productFor(vendorCPE, pkey, mkey)
	}
	if pa == nil && vendorCPE == "" {
		pa, how = t.productFor("", pkey, mkey)
	}
	return vendorCPE, pa, how, pkey
}

// ProductIndex returns the position in File().Products of the product
// alias that identifies an asset entered with vendor, product and model,
// or -1.
func (a *Aliases) ProductIndex(vendor, product, model string) int {
	t := a.tab()
	_, pa, _, _ := t.matchProduct(vendor, product, model)
	if pa == nil {
		return -1
	}
	for i := range t.products {
		if &t.products[i] == pa {
			return i
		}
	}
	return -1
}

func (a *Aliases) vendorFor(vendor string) string { return a.tab().vendorFor(vendor) }

func (t *aliasTable) vendorFor(vendor string) string {
	forms := []string{vendor}
	n := normWidth(vendor)
	if i := strings.IndexByte(n, '('); i > 0 {
		if j := strings.IndexByte(n[i:], ')'); j > 0 {
			forms = append(forms, n[:i]+n[i+j+1:], n[i+1:i+j])
		}
	}
	for _, f := range forms {
		k := NameKey(f)
		if k == "" {
			continue
		}
		if v, ok := t.vendors[k]; ok {
			return v
		}
		for _, suffix := range corporateSuffixes {
			if s := strings.TrimSuffix(k, suffix); s != k && s != "" {
				if v, ok := t.vendors[s]; ok {
					return v
				}
			}
		}
	}
	return ""
}

// productFor finds the first product alias of vendor (any vendor when
// vendor is "") whose name is a prefix of the product or the model.
func (t *aliasTable) productFor(vendor, pkey, mkey string) (*ProductAlias, string) {
	for _, field := range []struct{ key, what string }{{pkey, "product"}, {mkey, "model"}} {
		if field.key == "" {
			continue
		}
		for i := range t.products {
			p := &t.products[i]
			if vendor != "" && p.Vendor != vendor {
				continue
			}
			for _, n := range p.Names {
				nk := NameKey(n)
				if nk != "" && strings.HasPrefix(field.key, nk) {
					return p, fmt.Sprintf("%s %q is %s", field.what, n, p.Vendor)
				}
			}
		}
	}
	return nil, ""
}

type expanded struct {
	Name   cpe.Name
	Source string
	Rule   string
}

var versionPrefix = regexp.MustCompile(`(?i)^(?:version|ver\.?|rev\.?|firmware)\s*`)

var esxiRe = regexp.MustCompile(`(?i)(\d+)\.(\d+)(?:\.(\d+))?\s*(?:update\s*|u)?(\d+[a-z]?)?`)

func expand(reg *version.Registry, p *ProductAlias, tpl, product, model, ver string) []expanded {
	ver = versionPrefix.ReplaceAllString(normWidth(strings.TrimSpace(ver)), "")
	if tpl == "{windows}" {
		return windowsIdentities(product, ver)
	}
	m := modelWord(model, product, p.ModelPrefixes)
	if strings.Contains(tpl, "{model}") && m == "" {
		return nil
	}
	parts := strings.Split(tpl, ":")
	if len(parts) < 5 {
		return nil
	}
	vendor, prod := parts[3], strings.ReplaceAll(parts[4], "{model}", m)
	sch := reg.For(vendor, prod)
	canon := ""
	edition := "-"
	if ver != "" {
		if v, err := sch.Parse(ver); err == nil {
			canon = v.Canonical
			if v.Edition != "" {
				edition = v.Edition
			}
		} else {
			canon = strings.ReplaceAll(strings.ToLower(ver), " ", "_")
		}
	}
	esxiV, esxiU := "", "*"
	if mm := esxiRe.FindStringSubmatch(ver); mm != nil {
		esxiV = mm[1] + "." + mm[2]
		if mm[3] != "" {
			esxiV += "." + mm[3]
		} else if major, _ := strconv.Atoi(mm[1]); major >= 7 {
			esxiV += ".0"
		}
		if mm[4] != "" {
			esxiU = "update_" + strings.ToLower(mm[4])
		}
	}
	s := strings.NewReplacer("{version}", cpeQuote(canon), "{model}", cpeQuote(m), "{edition}", cpeQuote(edition),
		"{esxi_version}", cpeQuote(esxiV), "{esxi_update}", cpeQuote(esxiU)).Replace(tpl)
	s = strings.ReplaceAll(s, "::", ":*:")
	s = strings.TrimSuffix(s, ":")
	n, err := cpe.Parse(s)
	if err != nil {
		return nil
	}
	return []expanded{{Name: n, Source: "alias", Rule: tpl}}
}

// cpeQuote escapes text for a formatted-string component; "" gives "*".
func cpeQuote(s string) string {
	if s == "" {
		return "*"
	}
	if s == "-" || s == "*" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '_' || c == '.' || c == '-':
			b.WriteByte(c)
		case c <= ' ' || c >= 0x7f:
			b.WriteByte('_')
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String()
}

var corporateSuffixes = []string{"株式会社", "有限会社", "合同会社", "ホールディングス", "incorporated", "corporation",
	"inc", "corp", "coltd", "ltd", "llc", "gmbh", "co", "ag", "sa", "japan", "ジャパン", "日本"}

// nameKey normalises a name for lookups: half-width letters and digits,
// full-width katakana, lower case, corporate words and every character
// that is not a letter or digit removed.
func NameKey(s string) string {
	s = toKatakana(normWidth(s))
	s = strings.ToLower(s)
	for _, w := range []string{"株式会社", "(株)", "（株）", "有限会社"} {
		s = strings.ReplaceAll(s, w, "")
	}
	var b strings.Builder
	for _, r := range s {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 0x7f && r != '・' && r != '　' && r != 'ー' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripVendor removes a leading vendor name from a product or model key
// ("citrixadc" → "adc", "ヤマハrtx1210" → "rtx1210").
func stripVendor(key string, t *aliasTable, vendorCPE string) string {
	best := ""
	for name, v := range t.vendors {
		if v == vendorCPE && len(name) > len(best) && strings.HasPrefix(key, name) && len(key) > len(name) {
			best = name
		}
	}
	return strings.TrimPrefix(key, best)
}

// modelWord returns the model for a CPE product: lower case, spaces as
// "_", known prefixes removed ("FG-60F" → "60f", "UNIVERGE IX2106" →
// "ix2106"); the product is used when the model is empty and names one.
func modelWord(model, product string, prefixes []string) string {
	m := CPEWord(model)
	if m == "" {
		p := CPEWord(product)
		if strings.ContainsAny(p, "0123456789") {
			m = p
		}
	}
	for _, pre := range prefixes {
		pk := strings.ToLower(pre)
		if strings.HasPrefix(m, pk) && len(m) > len(pk) {
			rest := strings.TrimLeft(m[len(pk):], "-_ ")
			if rest != "" {
				m = rest
				break
			}
		}
	}
	return strings.Trim(m, "-_")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// cpeWord turns entered text into a CPE word: half-width, lower case,
// runs of spaces as "_".
func CPEWord(s string) string {
	s = strings.ToLower(strings.TrimSpace(normWidth(s)))
	return strings.Join(strings.Fields(s), "_")
}

type winBuild struct {
	client, server []string
}

var windowsBuilds = map[string]winBuild{
	"10240": {client: []string{"windows_10_1507"}},
	"10586": {client: []string{"windows_10_1511"}},
	"14393": {client: []string{"windows_10_1607"}, server: []string{"windows_server_2016"}},
	"15063": {client: []string{"windows_10_1703"}},
	"16299": {client: []string{"windows_10_1709"}},
	"17134": {client: []string{"windows_10_1803"}},
	"17763": {client: []string{"windows_10_1809"}, server: []string{"windows_server_2019"}},
	"18362": {client: []string{"windows_10_1903"}},
	"18363": {client: []string{"windows_10_1909"}},
	"19041": {client: []string{"windows_10_2004"}},
	"19042": {client: []string{"windows_10_20h2"}},
	"19043": {client: []string{"windows_10_21h1"}},
	"19044": {client: []string{"windows_10_21h2"}},
	"19045": {client: []string{"windows_10_22h2"}},
	"20348": {server: []string{"windows_server_2022"}},
	"22000": {client: []string{"windows_11_21h2"}},
	"22621": {client: []string{"windows_11_22h2"}},
	"22631": {client: []string{"windows_11_23h2"}},
	"25398": {server: []string{"windows_server_2022_23h2"}},
	"26100": {client: []string{"windows_11_24h2"}, server: []string{"windows_server_2025"}},
}

// windowsIdentities maps a Windows version to NVD's per-release products
// ("10.0.19045.3803" → windows_10_22h2 at that version; Server editions
// when the product name says "Server"). Older releases NVD names without
// build numbers (Windows 7, Server 2008/2012) get their service-pack form.
func windowsIdentities(product, ver string) []expanded {
	server := strings.Contains(strings.ToLower(normWidth(product)), "server")
	pk := NameKey(product)
	mk := func(prod, v, update string) expanded {
		n := cpe.Name{}
		n[cpe.Part] = cpe.StrValue("o")
		n[cpe.Vendor] = cpe.StrValue("microsoft")
		n[cpe.Product] = cpe.StrValue(prod)
		n[cpe.Version] = cpe.StrValue(v)
		n[cpe.Update] = cpe.StrValue(update)
		return expanded{Name: n, Source: "windows", Rule: "Windows build table"}
	}
	var out []expanded
	if v, err := (version.Windows{}).Parse(ver); err == nil {
		build := version.WindowsBuild(ver)
		if b, ok := windowsBuilds[build]; ok {
			list := b.client
			if server || len(list) == 0 {
				list = b.server
			}
			if len(list) == 0 {
				list = b.client
			}
			for _, p := range list {
				vv := v.Canonical
				if v.Partial {
					vv = ""
				}
				out = append(out, mk(p, vv, ""))
			}
			return out
		}
		switch build {
		case "7601":
			if server {
				return []expanded{mk("windows_server_2008", "r2", "sp1")}
			}
			return []expanded{mk("windows_7", "-", "sp1")}
		case "9600":
			if server {
				return []expanded{mk("windows_server_2012", "r2", "")}
			}
			return []expanded{mk("windows_8.1", "-", "")}
		case "9200":
			return []expanded{mk("windows_server_2012", "-", "")}
		case "6002", "6003":
			return []expanded{mk("windows_server_2008", "-", "sp2")}
		}
	}
	for _, w := range []struct{ key, prod, v, u string }{
		{"windowsserver2022", "windows_server_2022", "", ""}, {"windowsserver2019", "windows_server_2019", "", ""},
		{"windowsserver2016", "windows_server_2016", "", ""}, {"windowsserver2012r2", "windows_server_2012", "r2", ""},
		{"windowsserver2012", "windows_server_2012", "-", ""}, {"windowsserver2008r2", "windows_server_2008", "r2", "sp1"},
		{"windows7", "windows_7", "-", "sp1"}, {"windows81", "windows_8.1", "-", ""},
	} {
		if strings.HasPrefix(pk, w.key) {
			return []expanded{mk(w.prod, w.v, w.u)}
		}
	}
	return nil
}

// VendorKey returns the normalised key of a vendor name as the alias
// table knows it (its CPE vendor), else the name folded for comparison;
// CSAF products and assets agree on a vendor when their keys are equal.
func (a *Aliases) VendorKey(vendor string) string {
	if k := a.vendorFor(vendor); k != "" {
		return k
	}
	return NameKey(vendor)
}

func clipLabel(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
