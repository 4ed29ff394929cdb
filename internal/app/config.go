// Package app wires medisac together: configuration, the sub-commands and
// the server's start and graceful stop.
package app

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/auth"
)

// Config is medisac's whole configuration, filled from flags and MEDISAC_*
// environment variables (a *_FILE variant reads a secret from a file).
type Config struct {
	Addr        string `json:"addr"`
	BaseURL     string `json:"base_url"`
	DataDir     string `json:"data_dir"`
	DatabaseURL string `json:"database_url"`
	AuditKey    string `json:"audit_key_file"`
	LogLevel    string `json:"log_level"`
	Demo        bool   `json:"demo"`

	SMTPHost     string `json:"smtp_host"`
	SMTPPort     int    `json:"smtp_port"`
	SMTPSecurity string `json:"smtp_security"`
	SMTPUser     string `json:"smtp_username"`
	SMTPPassword string `json:"smtp_password"`
	SMTPFrom     string `json:"smtp_from"`

	SessionIdle     time.Duration `json:"session_idle"`
	SessionAbsolute time.Duration `json:"session_absolute"`
	Workers         int           `json:"workers"`

	// TrustedProxies lists the reverse proxies (addresses and CIDR ranges)
	// whose X-Forwarded-For is believed (MEDISAC_TRUSTED_PROXIES); empty
	// trusts none.
	TrustedProxies string `json:"trusted_proxies"`
	// MetricsToken, when set, lets a scraper read /metrics from anywhere
	// with "Authorization: Bearer <token>" (MEDISAC_METRICS_TOKEN).
	MetricsToken string `json:"metrics_token"`
	proxies      auth.Proxies

	// Vuln configures the online vulnerability feeds (MEDISAC_VULN_*).
	Vuln VulnConfig `json:"vuln"`
	// VulnDigestAt is the Japan time of day ("HH:MM") of the daily
	// vulnerability digest (MEDISAC_VULN_DIGEST_AT).
	VulnDigestAt string `json:"vuln_digest_at"`

	// clock replaces time.Now in tests.
	clock func() time.Time
	// importWait replaces api.DefaultImportWait in tests.
	importWait time.Duration
}

// DefaultConfig returns the configuration before flags and environment.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./medisac-data",
		LogLevel:        "info",
		SMTPPort:        587,
		SMTPSecurity:    "starttls",
		SessionIdle:     30 * time.Minute,
		SessionAbsolute: 12 * time.Hour,
		Workers:         2,
		VulnDigestAt:    "07:30",
	}
}

type envFn func(string) string

// loadEnv overlays MEDISAC_* variables on c.
func (c *Config) loadEnv(getenv envFn) error {
	str := func(name string, dst *string) error {
		if v := getenv(name); v != "" {
			*dst = v
		}
		if f := getenv(name + "_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("%s_FILE: %v", name, err)
			}
			*dst = strings.TrimRight(string(b), "\r\n")
		}
		return nil
	}
	for name, dst := range map[string]*string{
		"MEDISAC_ADDR": &c.Addr, "MEDISAC_BASE_URL": &c.BaseURL, "MEDISAC_DATA_DIR": &c.DataDir,
		"MEDISAC_DATABASE_URL": &c.DatabaseURL, "MEDISAC_AUDIT_KEY_FILE": &c.AuditKey, "MEDISAC_LOG_LEVEL": &c.LogLevel,
		"MEDISAC_SMTP_HOST": &c.SMTPHost, "MEDISAC_SMTP_SECURITY": &c.SMTPSecurity, "MEDISAC_SMTP_USERNAME": &c.SMTPUser,
		"MEDISAC_SMTP_PASSWORD": &c.SMTPPassword, "MEDISAC_SMTP_FROM": &c.SMTPFrom,
		"MEDISAC_VULN_NVD_URL": &c.Vuln.NVDURL, "MEDISAC_VULN_NVD_API_KEY": &c.Vuln.NVDAPIKey, "MEDISAC_VULN_KEV_URL": &c.Vuln.KEVURL,
		"MEDISAC_VULN_EPSS_URL": &c.Vuln.EPSSURL, "MEDISAC_VULN_JVN_URLS": &c.Vuln.JVNURLs, "MEDISAC_VULN_CSAF_PROVIDERS": &c.Vuln.CSAFProviders,
		"MEDISAC_VULN_DIGEST_AT": &c.VulnDigestAt, "MEDISAC_TRUSTED_PROXIES": &c.TrustedProxies, "MEDISAC_METRICS_TOKEN": &c.MetricsToken,
	} {
		if err := str(name, dst); err != nil {
			return err
		}
	}
	if v := getenv("MEDISAC_SMTP_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("MEDISAC_SMTP_PORT: %q is not a port number", v)
		}
		c.SMTPPort = n
	}
	for name, dst := range map[string]*time.Duration{"MEDISAC_SESSION_IDLE": &c.SessionIdle, "MEDISAC_SESSION_ABSOLUTE": &c.SessionAbsolute, "MEDISAC_VULN_SYNC_INTERVAL": &c.Vuln.Interval} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (e.g. 30m, 12h)", name, v)
			}
			*dst = d
		}
	}
	return nil
}

// bindFlags registers the flags shared by serve and demo.
func (c *Config) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (MEDISAC_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public URL used in e-mail links, e.g. https://medisac.example.jp (MEDISAC_BASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data folder: SQLite database, audit key, uploads (MEDISAC_DATA_DIR)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "background job workers")
}

// Validate checks the configuration and fills derived values; its error
// is a plain sentence naming the setting.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("MEDISAC_DATA_DIR must not be empty")
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "medisac.db")
	}
	if c.AuditKey == "" {
		c.AuditKey = filepath.Join(c.DataDir, "audit-ed25519.key")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("MEDISAC_ADDR %q is not host:port (e.g. 127.0.0.1:8080)", c.Addr)
	}
	if c.BaseURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("MEDISAC_BASE_URL %q must be an http:// or https:// address", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	switch c.SMTPSecurity {
	case "starttls", "tls", "none":
	default:
		return fmt.Errorf("MEDISAC_SMTP_SECURITY must be starttls, tls or none, not %q", c.SMTPSecurity)
	}
	if c.SMTPHost != "" && c.SMTPFrom == "" {
		return errors.New("MEDISAC_SMTP_FROM is required when MEDISAC_SMTP_HOST is set")
	}
	if c.SMTPPort <= 0 || c.SMTPPort > 65535 {
		return fmt.Errorf("MEDISAC_SMTP_PORT %d is not a port number", c.SMTPPort)
	}
	if c.SessionIdle < time.Minute || c.SessionAbsolute < c.SessionIdle {
		return errors.New("MEDISAC_SESSION_IDLE must be at least 1m and not longer than MEDISAC_SESSION_ABSOLUTE")
	}
	p, err := auth.ParseProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("MEDISAC_TRUSTED_PROXIES: %v", err)
	}
	c.proxies = p
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return errors.New("MEDISAC_METRICS_TOKEN must be at least 16 characters long")
	}
	if c.Workers < 0 || c.Workers > 64 {
		return errors.New("--workers must be between 0 and 64")
	}
	if c.VulnDigestAt == "" {
		c.VulnDigestAt = "07:30"
	}
	if _, ok := timeOfDay(c.VulnDigestAt); !ok {
		cat, _ := catalog()
		return errors.New(bilingual(cat, "vulndigest.config.bad_time", c.VulnDigestAt))
	}
	return nil
}

// timeOfDay reads "HH:MM" (00:00 to 23:59) as the time after midnight.
func timeOfDay(s string) (time.Duration, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || h[0] == '+' || m[0] == '+' {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

// vulnDigestAt is VulnDigestAt as vuln.Watch.DigestAt wants it: midnight
// is 24h, as zero there means the default.
func (c *Config) vulnDigestAt() time.Duration {
	d, ok := timeOfDay(c.VulnDigestAt)
	if !ok {
		return 0
	}
	if d == 0 {
		return 24 * time.Hour
	}
	return d
}

// SecureCookies reports whether cookies must carry the Secure attribute
// (the public address is https).
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Redacted returns the configuration as JSON with secrets replaced.
func (c Config) Redacted() string {
	if c.SMTPPassword != "" {
		c.SMTPPassword = "REDACTED"
	}
	if c.MetricsToken != "" {
		c.MetricsToken = "REDACTED"
	}
	if c.Vuln.NVDAPIKey != "" {
		c.Vuln.NVDAPIKey = "REDACTED"
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			c.DatabaseURL = u.String()
		}
	}
	b, _ := json.MarshalIndent(struct {
		Config
		SessionIdle     string `json:"session_idle"`
		SessionAbsolute string `json:"session_absolute"`
	}{c, c.SessionIdle.String(), c.SessionAbsolute.String()}, "", "  ")
	return string(b)
}
