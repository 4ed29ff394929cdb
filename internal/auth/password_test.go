package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

func TestHashPasswordFormat(t *testing.T) {
	h, err := auth.HashPassword("診療記録 2026!", productionArgon2)
	must(t, err)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not encode the default parameters", h)
	}
	h2, err := auth.HashPassword("x", auth.Argon2Params{MemoryKiB: 128, Time: 3, Threads: 2})
	must(t, err)
	parts := strings.Split(h2, "$")
	if len(parts) != 6 || parts[3] != "m=128,t=3,p=2" {
		t.Fatalf("hash %q: parameters not encoded", h2)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) != 16 {
		t.Fatalf("salt %q: %v (len %d)", parts[4], err, len(salt))
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) != 32 {
		t.Fatalf("key %q: %v (len %d)", parts[5], err, len(key))
	}
	if !auth.CheckPassword(h, "診療記録 2026!") || !auth.CheckPassword(h2, "x") {
		t.Fatal("right password refused")
	}
}

func TestCheckPassword(t *testing.T) {
	params := auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h, err := auth.HashPassword("Correct-Horse-7", params)
	must(t, err)
	again, err := auth.HashPassword("Correct-Horse-7", params)
	must(t, err)
	if h == again {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if !auth.CheckPassword(h, "Correct-Horse-7") || !auth.CheckPassword(again, "Correct-Horse-7") {
		t.Fatal("right password refused")
	}
	for _, wrong := range []string{"", "correct-horse-7", "Correct-Horse-7 ", "Correct-Horse-", "Correct-Horse-7\x00"} {
		if auth.CheckPassword(h, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	parts := strings.Split(h, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	flipped := []byte(parts[5])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	malformed := map[string]string{
		"empty":           "",
		"plain text":      "Correct-Horse-7",
		"argon2i":         with(1, "argon2i"),
		"bcrypt":          "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"old version":     with(2, "v=16"),
		"no version":      with(2, "x"),
		"zero memory":     with(3, "m=0,t=1,p=1"),
		"zero time":       with(3, "m=64,t=0,p=1"),
		"zero threads":    with(3, "m=64,t=1,p=0"),
		"huge time":       with(3, "m=64,t=1000,p=1"),
		"huge memory":     with(3, "m=99999999,t=1,p=1"),
		"threads too big": with(3, "m=64,t=1,p=300"),
		"bad params":      with(3, "garbage"),
		"bad salt":        with(4, "!!!"),
		"empty key":       with(5, ""),
		"bad key":         with(5, "@@@"),
		"changed key":     with(5, string(flipped)),
		"other salt":      with(4, strings.Split(again, "$")[4]),
		"missing part":    strings.Join(parts[:5], "$"),
		"extra part":      h + "$x",
	}
	for name, bad := range malformed {
		if auth.CheckPassword(bad, "Correct-Horse-7") {
			t.Errorf("%s: malformed hash %q matched", name, bad)
		}
		if auth.CheckPassword(bad, "") {
			t.Errorf("%s: malformed hash %q matched the empty password", name, bad)
		}
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	const email = "tanaka.ichiro@sakura-iin.jp"
	const name = "田中 一郎"
	long := strings.Repeat("長い合言葉です", 36) + "あいうえ"
	cases := []struct {
		password, email, name string
		key                   string // "" means accepted
	}{
		{"", email, name, "auth.password.too_short"},
		{"Ab1!", email, name, "auth.password.too_short"},
		{"Kx7#mQ2", email, name, "auth.password.too_short"},
		{"Kx7#mQ2v", email, name, ""},
		{"kx7mq2vz", email, name, "auth.password.mix"},
		{"kx7mq2vzr4tw", email, name, "auth.password.mix"},
		{"Kx-mQ-vz-Rw!", email, name, "auth.password.mix"},
		{"7148-2590-336", email, name, ""},
		{"kumoyukitsuzuku", email, name, ""},
		{"雲は流れて川になる", email, name, "auth.password.mix"},
		{"雲は流れ", email, name, "auth.password.too_short"},
		{"雲は流れて川になる朝の光と", email, name, ""},
		{"雲は流れ7川に!", email, name, ""},
		{"correct horse battery", email, name, ""},
		{long, email, name, ""},
		{long + "x", email, name, "auth.password.too_long"},
		{"P@ssw0rd123!", email, name, "auth.password.common"},
		{"Password2024!!", email, name, "auth.password.common"},
		{"p4$$w0rd!2026", email, name, "auth.password.common"},
		{"!2024Hospital", email, name, "auth.password.common"},
		{"Qwerty123456!", email, name, "auth.password.common"},
		{"1q2w3e4r5t", email, name, "auth.password.mix"},
		{"iloveyou!2025", email, name, "auth.password.common"},
		{"Medisac#2026x", email, name, ""},
		{"Medisac#2026", email, name, "auth.password.common"},
		{"abcdefgh1!", email, name, "auth.password.common"},
		{"zyxwvutsrq9#", email, name, "auth.password.common"},
		{"aaaaaaaaaaaaaa", email, name, "auth.password.common"},
		{"9876543210!!!", email, name, "auth.password.common"},
		{"12345678#$%&!", email, name, "auth.password.common"},
		{"Tanaka.Ichiro#1", email, name, "auth.password.personal"},
		{"Tanaka#2026kx", email, name, "auth.password.personal"},
		{"Ichiro-2026-kx", email, name, "auth.password.personal"},
		{"1chir0-2026-kx", email, name, "auth.password.personal"},
		{"Sakura-iin#2026", email, name, "auth.password.personal"},
		{"iin-Ok#2026kx", email, name, ""},
		{"田中一郎のパスワード7!", email, name, "auth.password.personal"},
		{"一郎は2026年も元気!", email, name, "auth.password.personal"},
		{"suzuki#2026kx", "s.yamada@kita.jp", "Suzuki Hanako", "auth.password.personal"},
		{"5uzuk1!Rocks9", "s.yamada@kita.jp", "Suzuki Hanako", "auth.password.personal"},
		{"Yamada!2026kx", "s.yamada@kita.jp", "", "auth.password.personal"},
		{"Hanako!2026kx", "s.yamada@kita.jp", "山田・花子", ""},
		{"花子!2026kx", "s.yamada@kita.jp", "山田・花子", "auth.password.personal"},
		{"花子!2026kx", "s.yamada@kita.jp", "", ""},
	}
	for _, c := range cases {
		err := auth.CheckPasswordPolicy(c.password, c.email, c.name)
		if c.key == "" {
			if err != nil {
				t.Errorf("%q (%s, %s): refused with %v, want accepted", c.password, c.email, c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q (%s, %s): accepted, want %s", c.password, c.email, c.name, c.key)
			continue
		}
		ae := apperr.From(err)
		if ae.Key != c.key || ae.Field != "password" || ae.Code != apperr.Invalid {
			t.Errorf("%q: got %s %s field %q, want %s on password", c.password, ae.Code, ae.Key, ae.Field, c.key)
		}
		checkRenders(t, ae.Key, ae.Args...)
	}
}

func TestPasswordMessagesFollowChecklist(t *testing.T) {
	err := apperr.From(auth.CheckPasswordPolicy("short", "", ""))
	got := catalog.T("ja", err.Key, err.Args...)
	want := "パスワードは8文字以上で、英字・数字・記号をすべて含めてください（13文字以上なら種類は問いません）。"
	if got != want {
		t.Fatalf("too_short renders %q, want %q", got, want)
	}
	mix := apperr.From(auth.CheckPasswordPolicy("abcdefgh", "", ""))
	if s := catalog.T("ja", mix.Key, mix.Args...); !strings.Contains(s, "13文字以上") {
		t.Fatalf("mix renders %q, want the 13-character alternative", s)
	}
}

func FuzzCheckPasswordPolicy(f *testing.F) {
	for _, s := range []string{"", "Kx7#mQ2v", "P@ssw0rd123!", "kumoyukitsuzuku", "雲は流れ7川に!", "9876543210!!!", "\xff\xfe", "a\x00b1!cdefg", "tanaka.ichiro"} {
		f.Add(s, "tanaka.ichiro@sakura-iin.jp", "田中 一郎")
	}
	f.Add("Abc-1234567", "@", "・")
	f.Add("Abc-1234567", "x@", "　　")
	f.Fuzz(func(t *testing.T, password, email, name string) {
		err := auth.CheckPasswordPolicy(password, email, name)
		if err != nil {
			ae := apperr.From(err)
			if ae.Code != apperr.Invalid || ae.Field != "password" || !catalog.Has("ja", ae.Key) {
				t.Fatalf("%q: unexpected error %v", password, err)
			}
			return
		}
		n := utf8.RuneCountInString(password)
		if n < auth.MinPasswordLength || n > auth.MaxPasswordLength {
			t.Fatalf("%q accepted with %d characters", password, n)
		}
		if n < auth.LongPasswordLength {
			var letter, digit, other bool
			for _, r := range password {
				switch {
				case unicode.IsLetter(r):
					letter = true
				case unicode.IsDigit(r):
					digit = true
				default:
					other = true
				}
			}
			if !letter || !digit || !other {
				t.Fatalf("%q accepted with %d characters without letters, digits and symbols", password, n)
			}
		}
	})
}

func BenchmarkCheckPassword(b *testing.B) {
	h, err := auth.HashPassword("Kx7#mQ2v-river", productionArgon2)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !auth.CheckPassword(h, "Kx7#mQ2v-river") {
			b.Fatal("refused")
		}
	}
}
