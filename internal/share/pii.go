package share

import (
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// PIIKind is a kind of patient-identifying text.
type PIIKind string

// The kinds of patient-identifying text CheckPII looks for.
const (
	PIIName       PIIKind = "name"        // 山田太郎様, ヤマダさん
	PIIPhone      PIIKind = "phone"       // 03-1234-5678, 090-1234-5678
	PIIMyNumber   PIIKind = "my_number"   // a 12-digit number (マイナンバー)
	PIIInsurance  PIIKind = "insurance"   // 保険証の記号・番号, 保険者番号
	PIIBirthDate  PIIKind = "birth_date"  // 生年月日, 昭和55年3月2日生
	PIIPatientID  PIIKind = "patient_id"  // カルテ番号, 患者ID, 診察券番号
	PIIMailToName PIIKind = "mail_person" // an e-mail address that looks personal
)

// PIIFinding is one piece of text that may identify a patient.
type PIIFinding struct {
	Kind PIIKind `json:"kind"`
	Text string  `json:"text"`
}

var (
	piiNameRE = regexp.MustCompile(`([\p{Han}々]{1,4}[ 　]?[\p{Han}々]{0,3}|[\p{Katakana}ー]{2,8}[ 　]?[\p{Katakana}ー]{0,8}|[\p{Hiragana}]{2,6}[ 　]?[\p{Hiragana}]{0,6})(様|さま|さん|氏|くん|ちゃん)`)
	// piiNotNames are words before 様/さん that address a role, not a
	// person.
	piiNotNames = []string{"患者", "皆", "みな", "お客", "客", "利用者", "担当者", "担当", "関係者", "業者", "事務局",
		"家族", "ご家族", "各位", "職員", "先生", "会員", "御中", "病院", "医院", "クリニック", "薬局", "ベンダー",
		"メーカー", "保守業者", "取引先", "組合員", "お子", "奥", "皆々", "相手", "神", "仏", "お疲れ", "ご苦労", "お世話",
		"お大事に", "ご利用者", "受診者", "入院患者", "外来患者", "通院患者", "被保険者", "本人", "ご本人", "第三者"}
	piiPhoneRE    = regexp.MustCompile(`(?:^|[^0-9])((?:\+81[- ]?|0)\d{1,4}[- ]?\d{1,4}[- ]\d{3,4}|0[5789]0\d{8}|0\d{9})(?:$|[^0-9])`)
	piiMyNumberRE = regexp.MustCompile(`(?:^|[^0-9A-Za-z])(\d{4}[- ]?\d{4}[- ]?\d{4})(?:$|[^0-9A-Za-z])`)
	piiInsureRE   = regexp.MustCompile(`(保険証|被保険者証?|保険者番号|記号|組合員番号|受給者番号)[^\n]{0,8}?[0-9０-９]{2,}`)
	piiBirthRE    = regexp.MustCompile(`生年月日[^\n]{0,4}?[0-9明大昭平令MTSHR]|(?:明治|大正|昭和|平成|令和|[MTSHR])\s?\d{1,2}\s?[年.]\s?\d{1,2}\s?[月.]\s?\d{1,2}\s?日?\s?生|\d{4}\s?[年/.-]\s?\d{1,2}\s?[月/.-]\s?\d{1,2}\s?日?\s?生(?:まれ)?`)
	piiPatientRE  = regexp.MustCompile(`(カルテ番号|カルテNo|患者ID|患者番号|診察券番号|診察券|ID番号)[^\n]{0,3}?\d{3,}`)
)

var (
	dashes    = strings.NewReplacer("−", "-", "‐", "-", "‑", "-", "–", "-", "—", "-", "―", "-", "－", "-")
	digitDash = regexp.MustCompile(`(\d)ー(\d)`)
)

// CheckPII finds text that may identify a patient: names followed by 様 or
// さん, telephone numbers, 12-digit numbers like a マイナンバー, health
// insurance card symbols and numbers, dates of birth and chart numbers.
// It errs on the side of warning; the person posting confirms or edits.
func CheckPII(text string) []PIIFinding {
	t := dashes.Replace(norm.NFKC.String(text))
	t = digitDash.ReplaceAllString(t, "$1-$2")
	var out []PIIFinding
	seen := map[string]bool{}
	add := func(k PIIKind, s string) {
		s = strings.TrimSpace(s)
		if s == "" || seen[string(k)+s] {
			return
		}
		seen[string(k)+s] = true
		out = append(out, PIIFinding{Kind: k, Text: s})
	}
	for _, m := range piiNameRE.FindAllStringSubmatch(t, -1) {
		name := strings.TrimSpace(m[1])
		generic := false
		for _, w := range piiNotNames {
			if strings.HasSuffix(name, w) {
				generic = true
				break
			}
		}
		if !generic {
			add(PIIName, m[0])
		}
	}
	for _, m := range piiMyNumberRE.FindAllStringSubmatch(t, -1) {
		add(PIIMyNumber, m[1])
	}
	for _, m := range piiPhoneRE.FindAllStringSubmatch(t, -1) {
		digits := strings.NewReplacer("-", "", " ", "", "+81", "0").Replace(m[1])
		if len(digits) == 12 && seen[string(PIIMyNumber)+m[1]] {
			continue
		}
		add(PIIPhone, m[1])
	}
	for _, m := range piiInsureRE.FindAllString(t, -1) {
		add(PIIInsurance, m)
	}
	for _, m := range piiBirthRE.FindAllString(t, -1) {
		add(PIIBirthDate, m)
	}
	for _, m := range piiPatientRE.FindAllString(t, -1) {
		add(PIIPatientID, m)
	}
	return out
}
