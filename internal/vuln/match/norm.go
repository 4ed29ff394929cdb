package match

import (
	"strings"
	"unicode/utf8"
)

// normWidth turns full-width ASCII and the ideographic space into their
// half-width forms and half-width katakana (with voiced marks) into
// full-width katakana, as NFKC would for these characters.
func normWidth(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		case r >= 0xFF61 && r <= 0xFF9F:
			k := halfKana[r]
			if i < len(s) {
				next, nsize := utf8.DecodeRuneInString(s[i:])
				if next == 0xFF9E || next == 0xFF9F {
					if c, ok := voiced[k+string(next)]; ok {
						b.WriteString(c)
						i += nsize
						continue
					}
				}
			}
			if k != "" {
				b.WriteString(k)
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// toKatakana maps hiragana to katakana so that either spelling of a vendor
// name matches.
func toKatakana(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x3041 && r <= 0x3096 {
			return r + 0x60
		}
		return r
	}, s)
}

var halfKana = map[rune]string{
	0xFF61: "。",
	0xFF62: "「",
	0xFF63: "」",
	0xFF64: "、",
	0xFF65: "・",
	0xFF66: "ヲ",
	0xFF67: "ァ",
	0xFF68: "ィ",
	0xFF69: "ゥ",
	0xFF6A: "ェ",
	0xFF6B: "ォ",
	0xFF6C: "ャ",
	0xFF6D: "ュ",
	0xFF6E: "ョ",
	0xFF6F: "ッ",
	0xFF70: "ー",
	0xFF71: "ア",
	0xFF72: "イ",
	0xFF73: "ウ",
	0xFF74: "エ",
	0xFF75: "オ",
	0xFF76: "カ",
	0xFF77: "キ",
	0xFF78: "ク",
	0xFF79: "ケ",
	0xFF7A: "コ",
	0xFF7B: "サ",
	0xFF7C: "シ",
	0xFF7D: "ス",
	0xFF7E: "セ",
	0xFF7F: "ソ",
	0xFF80: "タ",
	0xFF81: "チ",
	0xFF82: "ツ",
	0xFF83: "テ",
	0xFF84: "ト",
	0xFF85: "ナ",
	0xFF86: "ニ",
	0xFF87: "ヌ",
	0xFF88: "ネ",
	0xFF89: "ノ",
	0xFF8A: "ハ",
	0xFF8B: "ヒ",
	0xFF8C: "フ",
	0xFF8D: "ヘ",
	0xFF8E: "ホ",
	0xFF8F: "マ",
	0xFF90: "ミ",
	0xFF91: "ム",
	0xFF92: "メ",
	0xFF93: "モ",
	0xFF94: "ヤ",
	0xFF95: "ユ",
	0xFF96: "ヨ",
	0xFF97: "ラ",
	0xFF98: "リ",
	0xFF99: "ル",
	0xFF9A: "レ",
	0xFF9B: "ロ",
	0xFF9C: "ワ",
	0xFF9D: "ン",
	0xFF9E: "゙",
	0xFF9F: "゚",
}

var voiced = map[string]string{
	"カﾞ": "ガ",
	"キﾞ": "ギ",
	"クﾞ": "グ",
	"ケﾞ": "ゲ",
	"コﾞ": "ゴ",
	"サﾞ": "ザ",
	"シﾞ": "ジ",
	"スﾞ": "ズ",
	"セﾞ": "ゼ",
	"ソﾞ": "ゾ",
	"タﾞ": "ダ",
	"チﾞ": "ヂ",
	"ツﾞ": "ヅ",
	"テﾞ": "デ",
	"トﾞ": "ド",
	"ハﾞ": "バ",
	"ヒﾞ": "ビ",
	"フﾞ": "ブ",
	"ヘﾞ": "ベ",
	"ホﾞ": "ボ",
	"ウﾞ": "ヴ",
	"ハﾟ": "パ",
	"ヒﾟ": "ピ",
	"フﾟ": "プ",
	"ヘﾟ": "ペ",
	"ホﾟ": "ポ",
}
