package inventory

import (
	"strconv"
	"strings"
)

// field describes one column of a register sheet: its English key, its
// Japanese header, how to read it from a record and how to set it from text.
// set returns a message key when the text is not acceptable.
type field[T any] struct {
	Key      string
	JA       string
	Required bool
	get      func(*T) string
	// set reads v (serial: a number cell of a workbook, for dates); lb
	// gives the labels of choices.
	set func(r *T, v string, serial bool, lb *Labels) string
	// show is the text written on export when it differs from get (the
	// Japanese label of a choice); import accepts both.
	show func(*T, *Labels) string
}

func text[T any](key, ja string, p func(*T) *string) field[T] {
	return field[T]{Key: key, JA: ja,
		get: func(r *T) string { return *p(r) },
		set: func(r *T, v string, _ bool, _ *Labels) string {
			if len(v) > 4000 {
				return "inventory.error.too_long"
			}
			*p(r) = v
			return ""
		}}
}

func tri[T any](key, ja string, p func(*T) *Tri) field[T] {
	return field[T]{Key: key, JA: ja,
		get:  func(r *T) string { return string(p(r).orUnknown()) },
		show: func(r *T, lb *Labels) string { return lb.ja("inventory.tri.", string(p(r).orUnknown())) },
		set: func(r *T, v string, _ bool, _ *Labels) string {
			t, ok := ParseTri(v)
			if !ok {
				return "inventory.error.bad_tri"
			}
			*p(r) = t
			return ""
		}}
}

func date[T any](key, ja string, p func(*T) *Date) field[T] {
	return field[T]{Key: key, JA: ja,
		get: func(r *T) string { return string(*p(r)) },
		set: func(r *T, v string, serial bool, _ *Labels) string {
			d, err := parseDateCell(v, serial)
			if err != nil {
				return "inventory.error.bad_date"
			}
			*p(r) = d
			return ""
		}}
}

// choice is a column of one of a set of values; parse reads one with the
// labels of lb (a method of *Labels).
func choice[T any, E ~string](key, ja, prefix string, p func(*T) *E, parse func(*Labels, string) (E, bool)) field[T] {
	return field[T]{Key: key, JA: ja,
		get:  func(r *T) string { return string(*p(r)) },
		show: func(r *T, lb *Labels) string { return lb.ja(prefix, string(*p(r))) },
		set: func(r *T, v string, _ bool, lb *Labels) string {
			e, ok := parse(lb, v)
			if !ok {
				return "inventory.error.bad_choice"
			}
			*p(r) = e
			return ""
		}}
}

// ParseTri reads a yes/no/unknown answer as people write it in Japanese or
// English ("はい", "済", "有", "○", "yes", "いいえ", "無", "×", "不明", ...).
// Empty text is Unknown.
func ParseTri(s string) (Tri, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "unknown", "不明", "?", "？", "-", "ー", "未確認", "わからない":
		return Unknown, true
	case "yes", "y", "true", "1", "はい", "あり", "有", "有り", "済", "済み", "変更済", "変更済み", "○", "〇", "◯", "対応済":
		return Yes, true
	case "no", "n", "false", "0", "いいえ", "なし", "無", "無し", "未", "未変更", "未対応", "×", "✕", "x":
		return No, true
	}
	return "", false
}

// assetFields are the columns of the 資産 sheet in template order. The first
// 21 are the columns named in the register specification; the rest are
// optional extras that export writes and import accepts.
var assetFields = []field[Asset]{
	func() field[Asset] {
		f := text("name", "名称", func(a *Asset) *string { return &a.Name })
		f.Required = true
		return f
	}(),
	choice("kind", "種別", "inventory.kind.", func(a *Asset) *AssetKind { return &a.Kind }, (*Labels).kind),
	text("role", "用途", func(a *Asset) *string { return &a.Role }),
	text("vendor", "メーカー", func(a *Asset) *string { return &a.Vendor }),
	text("product", "製品名", func(a *Asset) *string { return &a.Product }),
	text("model", "型番", func(a *Asset) *string { return &a.Model }),
	text("version", "バージョン", func(a *Asset) *string { return &a.Version }),
	text("serial", "シリアル番号", func(a *Asset) *string { return &a.Serial }),
	text("hostname", "ホスト名", func(a *Asset) *string { return &a.Hostname }),
	text("ip", "IPアドレス", func(a *Asset) *string { return &a.IP }),
	{Key: "mac", JA: "MACアドレス",
		get: func(a *Asset) string { return a.MAC },
		set: func(a *Asset, v string, _ bool, _ *Labels) string { a.MAC = normalizeMAC(v); return "" }},
	text("segment", "セグメント", func(a *Asset) *string { return &a.SegmentName }),
	text("location", "設置場所", func(a *Asset) *string { return &a.Location }),
	text("department", "管理部門", func(a *Asset) *string { return &a.Department }),
	text("maintainer", "保守業者", func(a *Asset) *string { return &a.Maintainer }),
	date("support_end", "保守期限", func(a *Asset) *Date { return &a.SupportEnd }),
	tri("remote_maintenance", "リモート保守", func(a *Asset) *Tri { return &a.RemoteMaintenance }),
	tri("default_password_changed", "初期パスワード変更", func(a *Asset) *Tri { return &a.DefaultPasswordChanged }),
	tri("internet_exposed", "インターネット公開", func(a *Asset) *Tri { return &a.InternetExposed }),
	text("cpe", "CPE", func(a *Asset) *string { return &a.CPE }),
	text("notes", "備考", func(a *Asset) *string { return &a.Notes }),
	tri("password_shared", "パスワード共用", func(a *Asset) *Tri { return &a.PasswordShared }),
	tri("admin_mfa", "管理画面の多要素認証", func(a *Asset) *Tri { return &a.AdminMFA }),
	choice("lifecycle", "状態", "inventory.lifecycle.", func(a *Asset) *Lifecycle { return &a.Lifecycle }, (*Labels).lifecycle),
	tri("firmware_current", "ファームウェア最新", func(a *Asset) *Tri { return &a.FirmwareCurrent }),
	date("firmware_checked_on", "ファームウェア確認日", func(a *Asset) *Date { return &a.FirmwareCheckedOn }),
	text("os_guess", "OS推定", func(a *Asset) *string { return &a.OSGuess }),
	{Key: "open_ports", JA: "観測ポート",
		get: func(a *Asset) string { return formatPorts(a.OpenPorts) },
		set: func(a *Asset, v string, _ bool, _ *Labels) string {
			ps, ok := parsePorts(v)
			if !ok {
				return "inventory.error.bad_ports"
			}
			for i := range ps {
				for _, old := range a.OpenPorts {
					if old.Port == ps[i].Port && old.Protocol == ps[i].Protocol {
						ps[i] = old
					}
				}
			}
			a.OpenPorts = ps
			return ""
		}},
}

// formatPorts writes ports as "22/tcp, 443/tcp" (numbers and protocols only,
// so that the text survives a round trip through a spreadsheet).
func formatPorts(ps []Port) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, strconv.Itoa(p.Port)+"/"+p.Protocol)
	}
	return strings.Join(parts, ", ")
}

func parsePorts(s string) ([]Port, bool) {
	out := []Port{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '、' || r == ' ' || r == ';' }) {
		num, proto, ok := strings.Cut(part, "/")
		if !ok {
			proto = "tcp"
		}
		n, err := strconv.Atoi(num)
		proto = strings.ToLower(proto)
		if err != nil || n < 0 || n > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return nil, false
		}
		out = append(out, Port{Port: n, Protocol: proto})
	}
	sortPorts(out)
	return out, true
}

// FormatPorts writes ports as "22/tcp, 443/tcp", the form ParsePorts reads.
func FormatPorts(ps []Port) string { return formatPorts(ps) }

// ParsePorts reads ports written as "22/tcp, 443/tcp" (a bare number is
// TCP). Services already known in old are kept for ports still listed.
func ParsePorts(s string, old []Port) ([]Port, bool) {
	ps, ok := parsePorts(s)
	if !ok {
		return nil, false
	}
	for i := range ps {
		for _, o := range old {
			if o.Port == ps[i].Port && o.Protocol == ps[i].Protocol {
				ps[i] = o
			}
		}
	}
	return ps, true
}
