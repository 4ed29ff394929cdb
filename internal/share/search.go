package share

import (
	"context"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/medisac/medisac/internal/db"
)

// maxQueryGrams bounds the grams one search looks up.
const maxQueryGrams = 32

// searchText is what a post is found by: title, body and CVE ids
// (indicators are found with LookupIOC).
func searchText(p *Post) string {
	var b strings.Builder
	b.WriteString(p.Title)
	b.WriteString("\n")
	b.WriteString(p.Body)
	for _, c := range p.CVEs {
		b.WriteString("\n" + c)
	}
	return b.String()
}

// runs splits text, folded with NFKC (全角 ASCII → half width, half-width
// katakana → full width) and lower-cased, into runs of letters and digits.
func runs(text string) [][]rune {
	text = strings.ToLower(norm.NFKC.String(text))
	var out [][]rune
	var cur []rune
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == 'ー' {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Grams returns the distinct search grams of text: every pair of adjacent
// characters within a run, and a lone character for one-character runs.
// Japanese needs no word splitting this way.
func Grams(text string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(g string) {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, r := range runs(text) {
		if len(r) == 1 {
			add(string(r))
			continue
		}
		for i := 0; i+1 < len(r); i++ {
			add(string(r[i : i+2]))
		}
	}
	return out
}

// indexPost rewrites the search grams of a post.
func indexPost(ctx context.Context, q db.Querier, p *Post) error {
	if _, err := q.Exec(ctx, `DELETE FROM share_search WHERE post_id = ?`, p.ID); err != nil {
		return err
	}
	grams := Grams(searchText(p))
	const batch = 200
	for i := 0; i < len(grams); i += batch {
		end := min(i+batch, len(grams))
		var sb strings.Builder
		args := make([]any, 0, 2*(end-i))
		for j, g := range grams[i:end] {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?)")
			args = append(args, g, p.ID)
		}
		if _, err := q.Exec(ctx, `INSERT INTO share_search (gram, post_id) VALUES `+sb.String()+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// searchCondition is the SQL condition on p.id for a query; ok is false
// when the query has nothing to search for.
func searchCondition(query string) (cond string, args []any, ok bool) {
	var bi, uni []string
	for _, r := range runs(query) {
		if len(r) == 1 {
			uni = append(uni, string(r))
			continue
		}
		for i := 0; i+1 < len(r); i++ {
			bi = append(bi, string(r[i:i+2]))
		}
	}
	bi = dedupe(bi)
	if len(bi) > maxQueryGrams {
		bi = bi[:maxQueryGrams]
	}
	var conds []string
	if len(bi) > 0 {
		conds = append(conds, `p.id IN (SELECT post_id FROM share_search WHERE gram IN (`+db.In(len(bi))+`) GROUP BY post_id HAVING COUNT(*) = ?)`)
		for _, g := range bi {
			args = append(args, g)
		}
		args = append(args, len(bi))
	}
	for _, u := range dedupe(uni) {
		if len(conds) >= maxQueryGrams {
			break
		}
		conds = append(conds, `p.id IN (SELECT post_id FROM share_search WHERE gram LIKE ?)`)
		args = append(args, u+"%")
	}
	if len(conds) == 0 {
		return "", nil, false
	}
	return strings.Join(conds, " AND "), args, true
}

// verifySearch keeps the posts whose text really contains every run of the
// query (the gram index can match grams that are not adjacent).
func verifySearch(posts []*Post, query string) []*Post {
	qr := runs(query)
	out := posts[:0]
	for _, p := range posts {
		t := string(flatten(runs(p.Title + "\n" + p.Body + "\n" + strings.Join(p.CVEs, "\n"))))
		ok := true
		for _, r := range qr {
			if !strings.Contains(t, string(r)) {
				ok = false
				break
			}
		}
		if ok || len(qr) == 0 {
			out = append(out, p)
		}
	}
	return out
}

func flatten(rs [][]rune) []rune {
	var out []rune
	for _, r := range rs {
		out = append(out, r...)
		out = append(out, ' ')
	}
	return out
}
