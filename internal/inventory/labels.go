package inventory

import (
	"strings"

	"github.com/medisac/medisac/internal/i18n"
)

// Labels are the words of the register's choices (kind, lifecycle,
// connection type, manager, yes/no) in the node's message catalog: the
// Japanese label export writes for a value, and the labels (Japanese and
// English) import accepts beside the values themselves and the usual
// spellings. Built once per catalog (NewService does); a nil catalog, or a
// nil *Labels, leaves values as they are.
type Labels struct {
	cat       *i18n.Catalog
	kinds     func(string) (AssetKind, bool)
	cycles    func(string) (Lifecycle, bool)
	connTypes func(string) (ConnType, bool)
	managers  func(string) (Manager, bool)
}

// NewLabels returns the labels of cat.
func NewLabels(cat *i18n.Catalog) *Labels {
	return &Labels{
		cat: cat,
		kinds: labelled(cat, "inventory.kind.", AssetKinds, map[string]AssetKind{
			"サーバ": KindServer,
			"pc":  KindPC, "パソコン": KindPC, "端末": KindPC, "クライアント": KindPC, "パソコン端末": KindPC,
			"ネットワーク機器": KindNetwork, "nw機器": KindNetwork, "networkdevice": KindNetwork,
			"医療機器": KindMedical, "medicaldevice": KindMedical,
			"iot": KindIoT, "iot機器": KindIoT,
			"プリンタ": KindPrinter, "プリンター": KindPrinter, "複合機": KindPrinter, "プリンタ複合機": KindPrinter, "プリンタ/複合機": KindPrinter,
			"クラウドサービス": KindCloud, "クラウド": KindCloud, "cloudservice": KindCloud,
			"その他": KindOther,
		}),
		cycles: labelled(cat, "inventory.lifecycle.", Lifecycles, map[string]Lifecycle{"使用中": InUse, "稼働中": InUse, "運用中": InUse, "inuse": InUse,
			"予備": Spare, "保管": Spare, "廃棄": Retired, "廃棄済": Retired, "撤去": Retired, "撤去済": Retired}),
		connTypes: labelled(cat, "inventory.conn_type.", ConnTypes, map[string]ConnType{
			"インターネット": ConnInternet, "インターネット回線": ConnInternet,
			"ipsecvpn": ConnIPsecVPN, "ipsec": ConnIPsecVPN,
			"sslvpn": ConnSSLVPN,
			"lte":    ConnMobile, "モバイル": ConnMobile, "モバイル回線": ConnMobile, "lte回線": ConnMobile, "lteモバイル回線": ConnMobile, "携帯回線": ConnMobile,
			"isdn": ConnISDN, "isdn回線": ConnISDN,
			"専用線": ConnLeasedLine, "閉域網": ConnLeasedLine, "専用線閉域網": ConnLeasedLine, "leasedline": ConnLeasedLine,
			"リモートデスクトップ": ConnRemoteDesktop, "リモートデスクトップツール": ConnRemoteDesktop, "遠隔操作ツール": ConnRemoteDesktop, "remotedesktop": ConnRemoteDesktop,
			"クラウドサービス": ConnCloud, "クラウド": ConnCloud,
			"その他": ConnOther,
		}),
		managers: labelled(cat, "inventory.manager.", Managers, map[string]Manager{"情報システム部門": ManagerIT, "情報システム": ManagerIT, "情シス": ManagerIT, "it部門": ManagerIT,
			"事業者": ManagerVendor, "ベンダー": ManagerVendor, "ベンダ": ManagerVendor, "保守業者": ManagerVendor,
			"他部門": ManagerOtherDept, "その他部門": ManagerOtherDept, "ほかの部門": ManagerOtherDept,
			"不明": ManagerUnknown}),
	}
}

// ja is the Japanese label of value v of the choice under prefix.
func (l *Labels) ja(prefix, v string) string {
	if v == "" || l == nil || l.cat == nil {
		return v
	}
	return l.cat.T("ja", prefix+v)
}

// orBlank reads s with parse, blank being def.
func orBlank[E ~string](parse func(string) (E, bool), s string, def E) (E, bool) {
	if strings.TrimSpace(s) == "" {
		return def, true
	}
	return parse(s)
}

func (l *Labels) kind(s string) (AssetKind, bool) { return orBlank(l.kinds, s, KindOther) }

func (l *Labels) lifecycle(s string) (Lifecycle, bool) { return orBlank(l.cycles, s, InUse) }

func (l *Labels) connType(s string) (ConnType, bool) { return l.connTypes(s) }

func (l *Labels) manager(s string) (Manager, bool) { return orBlank(l.managers, s, ManagerUnknown) }

// labelled returns a parser accepting the values themselves, the labels of
// cat under prefix (Japanese and English) and the extra raw spellings.
func labelled[E ~string](cat *i18n.Catalog, prefix string, all []E, raw map[string]E) func(string) (E, bool) {
	labels := make(map[string]E, len(raw))
	for k, v := range raw {
		labels[normLabel(k)] = v
	}
	for _, v := range all {
		for _, lang := range i18n.Languages {
			if cat == nil {
				break
			}
			if l := cat.T(lang, prefix+string(v)); l != prefix+string(v) {
				labels[normLabel(l)] = v
			}
		}
	}
	return func(s string) (E, bool) {
		s = strings.TrimSpace(s)
		for _, e := range all {
			if strings.EqualFold(s, string(e)) {
				return e, true
			}
		}
		if e, ok := labels[normLabel(s)]; ok {
			return e, true
		}
		return "", false
	}
}

var labelReplacer = strings.NewReplacer(" ", "", "　", "", "-", "", "・", "", "ー", "")

func normLabel(s string) string {
	return strings.ToLower(labelReplacer.Replace(s))
}
