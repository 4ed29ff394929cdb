package inventory

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/csvsafe"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/xlsx"
)

// Export formats.
const (
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Register is the whole register of an organisation, as exported to JSON.
type Register struct {
	Assets           []Asset                     `json:"assets"`
	Segments         []Segment                   `json:"segments"`
	Communications   []Communication             `json:"communications"`
	Connections      []Connection                `json:"connections"`
	Vendors          []Vendor                    `json:"vendors"`
	Systems          []System                    `json:"systems"`
	Contracts        []Contract                  `json:"contracts"`
	Responsibilities map[string][]Responsibility `json:"responsibilities"`
	Documents        []Document                  `json:"documents"`
	Accounts         []Account                   `json:"accounts"`
}

// LoadRegister reads every record of the organisation's register, with flags
// as of today.
func LoadRegister(ctx context.Context, q db.Querier, orgID string, today Date) (*Register, error) {
	r := &Register{Responsibilities: map[string][]Responsibility{}}
	var err error
	if r.Assets, err = AllAssets(ctx, q, orgID); err != nil {
		return nil, err
	}
	if r.Segments, err = ListSegments(ctx, q, orgID); err != nil {
		return nil, err
	}
	if r.Communications, err = ListCommunications(ctx, q, orgID, ""); err != nil {
		return nil, err
	}
	if r.Connections, err = ListConnections(ctx, q, orgID, today); err != nil {
		return nil, err
	}
	if r.Vendors, err = ListVendors(ctx, q, orgID); err != nil {
		return nil, err
	}
	if r.Systems, err = ListSystems(ctx, q, orgID); err != nil {
		return nil, err
	}
	if r.Contracts, err = ListContracts(ctx, q, orgID, ""); err != nil {
		return nil, err
	}
	for _, s := range r.Systems {
		if r.Responsibilities[s.ID], err = Responsibilities(ctx, q, orgID, s.ID); err != nil {
			return nil, err
		}
	}
	if r.Documents, err = ListDocuments(ctx, q, orgID, ""); err != nil {
		return nil, err
	}
	if r.Accounts, err = ListAccounts(ctx, q, orgID, AccountFilter{}, today); err != nil {
		return nil, err
	}
	return r, nil
}

// Export writes the organisation's register to w: xlsx with one sheet per
// record kind (the 資産, 外部接続 and 事業者 sheets can be imported again),
// csv with the asset sheet (UTF-8 with BOM, for Excel), or json with every
// record. An unknown format is an Invalid error.
func Export(ctx context.Context, q db.Querier, cat *i18n.Catalog, orgID, format string, w io.Writer, today Date) error {
	return export(ctx, q, NewLabels(cat), orgID, format, w, today)
}

func export(ctx context.Context, q db.Querier, lb *Labels, orgID, format string, w io.Writer, today Date) error {
	switch format {
	case FormatXLSX, FormatCSV, FormatJSON:
	default:
		return apperr.Field("format", "inventory.error.bad_format")
	}
	if format == FormatCSV {
		assets, err := AllAssets(ctx, q, orgID)
		if err != nil {
			return err
		}
		return writeCSV(w, fieldHeaders(assetFields), func(emit func([]string) error) error {
			for i := range assets {
				if err := emit(fieldValues(lb, assetFields, &assets[i])); err != nil {
					return err
				}
			}
			return nil
		})
	}
	r, err := LoadRegister(ctx, q, orgID, today)
	if err != nil {
		return err
	}
	if format == FormatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return xlsx.Write(w, registerSheets(r, lb))
}

func fieldHeaders[T any](fields []field[T]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.JA
	}
	return out
}

func fieldValues[T any](lb *Labels, fields []field[T], rec *T) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		if f.show != nil {
			out[i] = f.show(rec, lb)
		} else {
			out[i] = f.get(rec)
		}
	}
	return out
}

func writeCSV(w io.Writer, header []string, rows func(func([]string) error) error) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(func(row []string) error { return cw.Write(csvsafe.Row(row)) }); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func registerSheets(r *Register, lb *Labels) []xlsx.SheetData {
	segName := map[string]string{}
	for _, s := range r.Segments {
		segName[s.ID] = s.Name
	}
	assetName := map[string]string{}
	for _, a := range r.Assets {
		assetName[a.ID] = a.Name
	}
	vendorName := map[string]string{}
	for _, v := range r.Vendors {
		vendorName[v.ID] = v.Name
	}
	sysName := map[string]string{}
	for _, s := range r.Systems {
		sysName[s.ID] = s.Name
	}
	sheets := []xlsx.SheetData{{Name: SheetAssets, Header: fieldHeaders(assetFields)}}
	for i := range r.Assets {
		sheets[0].Rows = append(sheets[0].Rows, fieldValues(lb, assetFields, &r.Assets[i]))
	}
	conns := xlsx.SheetData{Name: SheetConnections, Header: append(fieldHeaders(connectionFields), "注意点")}
	for i := range r.Connections {
		c := &r.Connections[i]
		var flags []string
		for _, f := range c.Flags {
			flags = append(flags, f.Code)
		}
		conns.Rows = append(conns.Rows, append(fieldValues(lb, connectionFields, c), strings.Join(flags, ", ")))
	}
	vendors := xlsx.SheetData{Name: SheetVendors, Header: fieldHeaders(vendorFields)}
	for i := range r.Vendors {
		vendors.Rows = append(vendors.Rows, fieldValues(lb, vendorFields, &r.Vendors[i]))
	}
	segs := xlsx.SheetData{Name: "セグメント", Header: []string{"名称", "種類", "アドレス範囲", "説明"}}
	for _, s := range r.Segments {
		segs.Rows = append(segs.Rows, []string{s.Name, string(s.Kind), s.CIDR, s.Description})
	}
	comms := xlsx.SheetData{Name: "通信許可", Header: []string{"送信元セグメント", "宛先セグメント", "機器", "相手", "ポート", "プロトコル", "理由", "確認日", "確認者"}}
	for _, c := range r.Communications {
		comms.Rows = append(comms.Rows, []string{segName[c.FromSegmentID], segName[c.ToSegmentID], assetName[c.AssetID], c.Peer, c.Port, c.Protocol, c.Reason, string(c.ReviewedOn), c.ReviewedBy})
	}
	systems := xlsx.SheetData{Name: "システム", Header: []string{"名称", "事業者", "説明"}}
	for _, s := range r.Systems {
		systems.Rows = append(systems.Rows, []string{s.Name, vendorName[s.VendorID], s.Description})
	}
	contracts := xlsx.SheetData{Name: "保守契約", Header: []string{"契約名", "事業者", "対象システム", "開始日", "終了日", "リモート保守", "連絡先", "備考"}}
	for _, c := range r.Contracts {
		var names []string
		for _, id := range c.SystemIDs {
			names = append(names, sysName[id])
		}
		contracts.Rows = append(contracts.Rows, []string{c.Title, vendorName[c.VendorID], strings.Join(names, ", "), string(c.StartOn), string(c.EndOn), string(c.RemoteMaintenance), c.Contact, c.Notes})
	}
	resp := xlsx.SheetData{Name: "責任分界", Header: []string{"システム", "業務", "担当", "備考"}}
	for _, s := range r.Systems {
		for _, x := range r.Responsibilities[s.ID] {
			resp.Rows = append(resp.Rows, []string{s.Name, string(x.Duty), string(x.Holder), x.Note})
		}
	}
	docs := xlsx.SheetData{Name: "文書", Header: []string{"システム", "種類", "題名", "ファイル名", "形式", "サイズ", "SHA-256", "登録日時"}}
	for _, d := range r.Documents {
		docs.Rows = append(docs.Rows, []string{sysName[d.SystemID], string(d.Kind), d.Title, d.Filename, d.ContentType, strconv.FormatInt(d.Size, 10), d.SHA256, d.UploadedAt.Format("2006-01-02 15:04")})
	}
	accts := xlsx.SheetData{Name: "アカウント", Header: []string{"システム", "機器", "ユーザー名", "種類", "管理者権限", "利用者", "退職済", "有効期限", "最終確認日", "状態", "備考", "注意点"}}
	for _, a := range r.Accounts {
		var flags []string
		for _, f := range a.Flags {
			flags = append(flags, f.Code)
		}
		accts.Rows = append(accts.Rows, []string{sysName[a.SystemID], assetName[a.AssetID], a.Username, string(a.Kind), yesNo(a.Admin), a.Holder, yesNo(a.HolderLeft),
			string(a.ExpiresOn), string(a.LastReviewedOn), string(a.State), a.Notes, strings.Join(flags, ", ")})
	}
	return append(sheets, conns, vendors, segs, comms, systems, contracts, resp, docs, accts)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Template writes an empty import file: xlsx with the sheets 資産, 外部接続
// and 事業者 (header rows only) and a 記入方法 sheet explaining the columns
// and the accepted values; or csv with the asset header (UTF-8 with BOM).
func Template(format string, w io.Writer) error {
	switch format {
	case FormatCSV:
		return writeCSV(w, fieldHeaders(assetFields), func(func([]string) error) error { return nil })
	case FormatXLSX:
	default:
		return apperr.Field("format", "inventory.error.bad_format")
	}
	widths := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 16
		}
		return w
	}
	help := xlsx.SheetData{Name: "記入方法", Header: []string{"シート", "列名", "英語キー", "書き方"}, Widths: []float64{12, 22, 26, 80}}
	add := func(sheet string, headers, keys []string) {
		for i := range headers {
			help.Rows = append(help.Rows, []string{sheet, headers[i], keys[i], templateHint(keys[i])})
		}
	}
	add(SheetAssets, fieldHeaders(assetFields), fieldKeys(assetFields))
	add(SheetConnections, fieldHeaders(connectionFields), fieldKeys(connectionFields))
	add(SheetVendors, fieldHeaders(vendorFields), fieldKeys(vendorFields))
	return xlsx.Write(w, []xlsx.SheetData{
		{Name: SheetAssets, Header: fieldHeaders(assetFields), Widths: widths(len(assetFields))},
		{Name: SheetConnections, Header: fieldHeaders(connectionFields), Widths: widths(len(connectionFields))},
		{Name: SheetVendors, Header: fieldHeaders(vendorFields), Widths: widths(len(vendorFields))},
		help,
	})
}

func fieldKeys[T any](fields []field[T]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Key
	}
	return out
}

func templateHint(key string) string {
	switch key {
	case "name":
		return "必須。同じシートの中で重複しない名前（例: 電子カルテサーバ1）"
	case "kind":
		return "サーバ / PC / ネットワーク機器 / 医療機器 / IoT / プリンタ・複合機 / クラウドサービス / その他"
	case "type":
		return "インターネット / IPsec-VPN / SSL-VPN / LTE・モバイル回線 / ISDN / 専用線・閉域網 / リモートデスクトップ / クラウドサービス / その他"
	case "manager":
		return "情報システム部門 / 事業者 / 他部門 / 不明"
	case "support_end", "firmware_checked_on", "last_reviewed":
		return "日付。和暦（R8.3.31、令和8年3月31日）でも西暦（2026/3/31）でも可"
	case "remote_maintenance", "default_password_changed", "internet_exposed", "password_shared", "admin_mfa", "firmware_current", "mfa":
		return "はい / いいえ / 不明（空欄は不明）"
	case "lifecycle":
		return "使用中 / 予備 / 廃棄（空欄は使用中）"
	case "segment":
		return "ネットワークの区分（例: 医療系、情報系、保守用、ゲスト）。新しい名前はセグメントとして追加されます"
	case "device":
		return "外部接続を受ける機器の名称（資産シートの名称）"
	case "vendor":
		return "事業者シートまたは登録済みの事業者の名称"
	case "open_ports":
		return "開いているポート（例: 22/tcp, 443/tcp）"
	}
	return ""
}
