// Package i18n holds medisac's message catalogs (Japanese first, English
// second) and the locale-aware formatting of dates, numbers and the Japanese
// fiscal year (令和N年度).
//
// Catalogs are JSON files embedded from messages/: NAME.ja.json and
// NAME.en.json, one pair per area, each a flat object of key → text with
// fmt verbs for arguments. A key defined twice is an error at start.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed messages/*.json
var messagesFS embed.FS

// Languages are the supported languages, the default first.
var Languages = []string{"ja", "en"}

// Default is the language used when nothing else is known.
const Default = "ja"

// Catalog maps language → key → text.
type Catalog struct {
	msgs map[string]map[string]string
}

// Load reads the embedded catalogs. It fails on malformed JSON, an unknown
// language suffix or a key defined twice.
func Load() (*Catalog, error) {
	return load(messagesFS, "messages")
}

func load(fsys fs.FS, dir string) (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	for _, l := range Languages {
		c.msgs[l] = map[string]string{}
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		base := strings.TrimSuffix(name, ".json")
		lang := path.Ext(base)
		lang = strings.TrimPrefix(lang, ".")
		m, ok := c.msgs[lang]
		if !ok {
			return nil, fmt.Errorf("i18n: %s: unknown language %q", name, lang)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		var kv map[string]string
		if err := json.Unmarshal(b, &kv); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		for k, v := range kv {
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("i18n: %s: key %q defined twice", name, k)
			}
			m[k] = v
		}
	}
	return c, nil
}

// MustLoad is Load that panics, for tests and package initialisation.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// T returns the text of key in lang with args applied. A key missing in lang
// falls back to Japanese, then to the key itself (so a missing text is
// visible, never blank).
func (c *Catalog) T(lang, key string, args ...any) string {
	s, ok := c.msgs[lang][key]
	if !ok {
		s, ok = c.msgs[Default][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Has reports whether key exists in lang.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.msgs[lang][key]
	return ok
}

// Keys returns the sorted keys of lang.
func (c *Catalog) Keys(lang string) []string {
	var out []string
	for k := range c.msgs[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Match returns the supported language for a user setting or an
// Accept-Language header value ("en-US,en;q=0.9,ja;q=0.8"), or Default.
func Match(pref string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(pref, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if strings.HasPrefix(strings.TrimSpace(params), "q=") {
			fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(params), "q="), "%g", &q)
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		for _, l := range Languages {
			if primary == l && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	if best == "" {
		return Default
	}
	return best
}

// Valid reports whether lang is a supported language code.
func Valid(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}
