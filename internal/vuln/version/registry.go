package version

import (
	"strings"
	"sync"
)

// Registry chooses a Scheme by CPE vendor and product. It is safe for
// concurrent use.
type Registry struct {
	mu       sync.RWMutex
	products map[string]Scheme
	vendors  map[string]Scheme
	prefix   []prefixRule
	fallback Scheme
}

type prefixRule struct {
	vendor, productPrefix string
	scheme                Scheme
}

// NewRegistry returns an empty registry whose fallback is Generic.
func NewRegistry() *Registry {
	return &Registry{products: map[string]Scheme{}, vendors: map[string]Scheme{}, fallback: Generic{}}
}

// Register sets the scheme for vendor and product (as CPE spells them,
// without quoting); product "*" sets it for every product of the vendor
// that has no scheme of its own.
func (r *Registry) Register(vendor, product string, s Scheme) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vendor, product = strings.ToLower(vendor), strings.ToLower(product)
	if product == "*" {
		r.vendors[vendor] = s
		return
	}
	r.products[vendor+":"+product] = s
}

// For returns the scheme for vendor and product, or the fallback.
func (r *Registry) For(vendor, product string) Scheme {
	vendor, product = strings.ToLower(vendor), strings.ToLower(product)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s, ok := r.products[vendor+":"+product]; ok {
		return s
	}
	for _, p := range r.prefix {
		if p.vendor == vendor && strings.HasPrefix(product, p.productPrefix) {
			return p.scheme
		}
	}
	if s, ok := r.vendors[vendor]; ok {
		return s
	}
	return r.fallback
}

// ByName returns the built-in scheme with that name, or nil.
func ByName(name string) Scheme {
	for _, s := range All() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// All returns every built-in scheme.
func All() []Scheme {
	return []Scheme{FortiOS{}, CiscoASA{}, CiscoIOS{}, Citrix{}, PANOS{}, Ivanti{}, Windows{}, Semver{}, Generic{}}
}

// Default returns a registry with medisac's vendor mapping: every Fortinet
// product to FortiOS; Cisco ASA software to CiscoASA and IOS, IOS XE and
// NX-OS to CiscoIOS; Citrix ADC, NetScaler and Gateway (firmware and
// appliance software) to Citrix; PAN-OS to PANOS; Ivanti and Pulse Secure
// Connect Secure and Policy Secure to Ivanti; every Microsoft Windows
// product to Windows; everything else to Generic.
func Default() *Registry {
	r := NewRegistry()
	r.Register("fortinet", "*", FortiOS{})
	for _, p := range []string{"adaptive_security_appliance_software", "adaptive_security_appliance", "asa"} {
		r.Register("cisco", p, CiscoASA{})
	}
	for _, p := range []string{"ios", "ios_xe", "nx-os", "ios_xr"} {
		r.Register("cisco", p, CiscoIOS{})
	}
	for _, p := range []string{"application_delivery_controller", "application_delivery_controller_firmware",
		"netscaler_application_delivery_controller", "netscaler_application_delivery_controller_firmware",
		"netscaler_gateway", "netscaler_gateway_firmware", "gateway", "gateway_firmware", "netscaler",
		"netscaler_adc", "adc"} {
		r.Register("citrix", p, Citrix{})
	}
	r.Register("paloaltonetworks", "pan-os", PANOS{})
	for _, v := range []string{"ivanti", "pulsesecure"} {
		for _, p := range []string{"connect_secure", "policy_secure", "pulse_connect_secure", "pulse_policy_secure"} {
			r.Register(v, p, Ivanti{})
		}
	}
	r.mu.Lock()
	r.prefix = append(r.prefix, prefixRule{"microsoft", "windows", Windows{}})
	r.mu.Unlock()
	return r
}

// JoinCPE returns the vendor's way of writing a release that NVD splits
// into a CPE version and update: PAN-OS "10.2.9"+"h1" is "10.2.9-h1",
// Ivanti "9.1"+"r11.4" is "9.1r11.4", a pre-release update ("beta9",
// "rc1") is joined with "~" so that it sorts before the release; any other
// update is joined with "-". An update of "", "*" or "-" leaves the
// version as it is.
func JoinCPE(s Scheme, version, update string) string {
	if update == "" || update == "*" || update == "-" {
		return version
	}
	switch s.(type) {
	case PANOS:
		return version + "-" + update
	case Ivanti:
		return version + update
	case Semver:
		return version + "-" + update
	}
	u := strings.ToLower(update)
	for _, p := range []string{"alpha", "beta", "rc", "pre", "preview"} {
		if strings.HasPrefix(u, p) {
			return version + "~" + update
		}
	}
	return version + "-" + update
}
