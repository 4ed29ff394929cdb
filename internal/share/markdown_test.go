package share

import (
	"regexp"
	"strings"
	"testing"
)

func TestRenderMarkdown(t *testing.T) {
	cases := []struct {
		name, in      string
		want, notWant []string
	}{
		{"headings and lists", "## 対応\n\n- 更新する\n- 再起動する", []string{"<h2", "<li>更新する</li>"}, nil},
		{"raw html dropped", "<script>alert(1)</script><b onclick=x>太字</b>", nil, []string{"<script", "onclick", "alert(1)</script>"}},
		{"javascript link", "[押して](javascript:alert(1))", nil, []string{"javascript:"}},
		{"data link", "[x](data:text/html;base64,PHNjcmlwdD4=)", nil, []string{"data:"}},
		{"image dropped", "![x](https://evil.example/a.png)", nil, []string{"<img"}},
		{"safe link", "[JVN](https://jvn.jp/vu/JVNVU99999999/)", []string{`href="https://jvn.jp/vu/JVNVU99999999/"`, `rel="nofollow noreferrer noopener"`, `target="_blank"`}, nil},
		{"autolink", "詳細は https://www.jpcert.or.jp/at/2024/ を参照", []string{`href="https://www.jpcert.or.jp/at/2024/"`}, nil},
		{"table", "|a|b|\n|-|-|\n|1|2|", []string{"<table>", "<td>1</td>"}, nil},
		{"style attribute", "<p style=\"x\">a</p>", nil, []string{"style="}},
		{"html entity escape", "1 < 2 & 3 > 2", []string{"1 &lt; 2 &amp; 3 &gt; 2"}, nil},
	}
	for _, c := range cases {
		got := RenderMarkdown(c.in)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q contains %q", c.name, got, w)
			}
		}
	}
}

func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range []string{"# t\n\n[a](javascript:x)", "<img src=x onerror=alert(1)>", "```\n<script>\n```", "|a|\n|-|\n|<b>|", "[x](https://a.example/\"onmouseover=\")"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := strings.ToLower(RenderMarkdown(s))
		for _, tag := range tagRE.FindAllString(out, -1) {
			for _, bad := range []string{"<script", "<iframe", "<img", "<style", "<object", "<embed", "<form", "<input", " style=", "javascript:", "vbscript:", "data:"} {
				if strings.Contains(tag, bad) {
					t.Fatalf("%q rendered to %q", s, out)
				}
			}
			if onAttrRE.MatchString(tag) {
				t.Fatalf("%q rendered an event handler: %q", s, out)
			}
		}
	})
}

var (
	tagRE    = regexp.MustCompile(`<[^>]*>`)
	onAttrRE = regexp.MustCompile(`\son[a-z]+\s*=`)
)
