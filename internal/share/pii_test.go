package share

import (
	"testing"
)

func TestCheckPII(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []PIIKind
	}{
		{"patient name with 様", "受付で山田太郎様の診察券を読み取ったところ画面が止まりました。", []PIIKind{PIIName}},
		{"surname with さん", "看護師が佐藤さんの検査結果を印刷しようとしたら暗号化されていた。", []PIIKind{PIIName}},
		{"katakana name", "ヤマダ ハナコさんの予約が消えていました。", []PIIKind{PIIName}},
		{"generic 患者さん is fine", "患者さんへの影響はありませんでした。皆様ご注意ください。", nil},
		{"vendor 様 is fine", "保守業者様に連絡し、担当者様が来院されました。", nil},
		{"mobile phone", "折り返しは 090-1234-5678 まで", []PIIKind{PIIPhone}},
		{"landline phone", "自宅（03-3123-4567）へ電話があった", []PIIKind{PIIPhone}},
		{"full-width phone", "連絡先：０４５−６７８−９０１２", []PIIKind{PIIPhone}},
		{"my number", "マイナンバー 1234 5678 9012 が記載された書類", []PIIKind{PIIMyNumber}},
		{"my number no spaces", "番号は123456789012でした", []PIIKind{PIIMyNumber}},
		{"insurance card", "保険証の記号 12 番号 3456 を控えた", []PIIKind{PIIInsurance}},
		{"insurer number", "保険者番号06123456の方", []PIIKind{PIIInsurance}},
		{"birth date era", "昭和55年3月2日生の男性", []PIIKind{PIIBirthDate}},
		{"birth date label", "生年月日：1980/03/02", []PIIKind{PIIBirthDate}},
		{"birth date western", "1975年11月3日生まれ", []PIIKind{PIIBirthDate}},
		{"chart number", "カルテ番号 004512 の記録", []PIIKind{PIIPatientID}},
		{"technical text is fine", "VPN装置（FortiGate 7.2.4）に CVE-2024-21762 の攻撃。送信元 203.0.113.7、2024年2月9日に検知。", nil},
		{"hash is fine", "ハッシュ値 ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", nil},
		{"version and time are fine", "更新は 7.4.3 へ。10時30分に再起動。", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CheckPII(c.text)
			kinds := map[PIIKind]bool{}
			for _, f := range got {
				kinds[f.Kind] = true
			}
			for _, k := range c.want {
				if !kinds[k] {
					t.Errorf("missed %s in %q (found %v)", k, c.text, got)
				}
			}
			if len(c.want) == 0 && len(got) > 0 {
				t.Errorf("false alarm in %q: %v", c.text, got)
			}
		})
	}
}

func FuzzCheckPII(f *testing.F) {
	f.Add("山田太郎様 090-1234-5678 昭和55年3月2日生 マイナンバー 123456789012")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		for _, x := range CheckPII(s) {
			if x.Text == "" {
				t.Fatal("empty finding")
			}
		}
	})
}
