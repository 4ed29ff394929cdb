package share

import (
	"bytes"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// MaxBody is the largest Markdown body of a post or comment, in bytes.
const MaxBody = 100_000

var (
	mdOnce   sync.Once
	mdEngine goldmark.Markdown
	mdPolicy *bluemonday.Policy
)

func markdownEngine() (goldmark.Markdown, *bluemonday.Policy) {
	mdOnce.Do(func() {
		// Raw HTML is never passed through (goldmark drops it unless
		// WithUnsafe); the sanitiser then allows only a fixed set of
		// elements and http/https/mailto links, and makes every link
		// rel="nofollow noopener" and open in a new tab.
		mdEngine = goldmark.New(
			goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
			goldmark.WithRendererOptions(html.WithHardWraps()),
		)
		p := bluemonday.NewPolicy()
		p.AllowElements("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
			"blockquote", "pre", "code", "em", "strong", "del", "table", "thead", "tbody", "tr", "th", "td")
		p.AllowAttrs("href").OnElements("a")
		p.AllowAttrs("align").Matching(bluemonday.SpaceSeparatedTokens).OnElements("th", "td")
		p.AllowURLSchemes("http", "https", "mailto")
		p.RequireParseableURLs(true)
		p.AllowRelativeURLs(false)
		p.RequireNoFollowOnLinks(true)
		p.RequireNoReferrerOnLinks(true)
		p.AddTargetBlankToFullyQualifiedLinks(true)
		mdPolicy = p
	})
	return mdEngine, mdPolicy
}

// RenderMarkdown turns a post body into safe HTML: the CommonMark subset
// with tables, strikethrough and bare links; no raw HTML, no images, no
// scripts, no style; links only to http, https and mailto addresses.
func RenderMarkdown(src string) string {
	md, pol := markdownEngine()
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return pol.Sanitize("<p>" + bluemonday.StrictPolicy().Sanitize(src) + "</p>")
	}
	return string(pol.SanitizeBytes(buf.Bytes()))
}
