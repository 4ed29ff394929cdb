package version

import (
	"regexp"
	"strings"
)

// Citrix is the numbering of Citrix ADC / NetScaler ADC and Gateway:
// release train and build, "13.0-47.24", as NVD writes it in ranges
// ("versionEndExcluding": "13.0-91.13"), or as the appliance shows it
// ("NS13.0: Build 47.24.nc"). A train alone ("13.0") is older than every
// build of the train and, as an asset's version, Partial. "FIPS" and
// "NDcPP" in the text are taken out into Edition (NVD puts them in the CPE
// sw_edition); they do not change the order.
type Citrix struct{}

// Name returns "citrix".
func (Citrix) Name() string { return "citrix" }

var (
	citrixDash  = regexp.MustCompile(`(\d+)\.(\d+)-(\d+)\.(\d+)`)
	citrixBuild = regexp.MustCompile(`(\d+)\.(\d+)\s*:?\s*build\s*(\d+)\.(\d+)`)
	citrixTrain = regexp.MustCompile(`^(\d+)\.(\d+)$`)
	citrixNoise = regexp.MustCompile(`\b(citrix|netscaler|adc|gateway|release|version|fips|ndcpp|nc|ns)\b|[(),/]`)
)

// Parse reads a Citrix version.
func (c Citrix) Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, invalid(c.Name(), s)
	}
	n := normSpace(s)
	v := Version{Raw: s, scheme: c.Name()}
	switch {
	case strings.Contains(n, "ndcpp"):
		v.Edition = "ndcpp"
	case strings.Contains(n, "fips"):
		v.Edition = "fips"
	}
	if strings.Trim(n, "0123456789.-") != "" {
		n = strings.TrimPrefix(n, "ns")
		n = strings.Join(strings.Fields(citrixNoise.ReplaceAllString(n, " ")), " ")
		n = strings.TrimPrefix(n, "ns")
	}
	var m []string
	if m = citrixDash.FindStringSubmatch(n); m == nil {
		m = citrixBuild.FindStringSubmatch(n)
	}
	if m != nil {
		v.key = []token{num(m[1]), num(m[2]), num(m[3]), num(m[4])}
		v.Canonical = tokText(v.key[0]) + "." + tokText(v.key[1]) + "-" + tokText(v.key[2]) + "." + tokText(v.key[3])
		return v, nil
	}
	if m = citrixTrain.FindStringSubmatch(strings.TrimSuffix(n, "-")); m != nil {
		v.key = []token{num(m[1]), num(m[2])}
		v.Canonical = tokText(v.key[0]) + "." + tokText(v.key[1])
		v.partial(v.key[:2])
		return v, nil
	}
	return Version{}, invalid(c.Name(), s)
}

// Compare compares two Citrix versions.
func (c Citrix) Compare(a, b string) (int, error) { return compareWith(c, a, b) }
