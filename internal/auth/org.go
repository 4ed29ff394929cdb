// Package auth holds organisations, people and their memberships, password
// and session handling, API tokens, sign-in throttling and the e-mail links
// for invitations and password resets.
//
// Tenant rule: every function that reads an organisation's data takes the
// acting Principal or an explicit organisation id and builds the condition
// itself; a row of another organisation looks exactly like a missing row.
package auth

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// OrgKind is the kind of an organisation.
type OrgKind string

// The organisation kinds.
const (
	KindHospital    OrgKind = "hospital"
	KindClinic      OrgKind = "clinic"
	KindPharmacy    OrgKind = "pharmacy"
	KindVendor      OrgKind = "vendor"
	KindDeviceMaker OrgKind = "device_maker"
	KindISAC        OrgKind = "isac"
)

// OrgKinds lists every organisation kind in display order.
var OrgKinds = []OrgKind{KindHospital, KindClinic, KindPharmacy, KindVendor, KindDeviceMaker, KindISAC}

// Valid reports whether k is a known kind.
func (k OrgKind) Valid() bool { return slices.Contains(OrgKinds, k) }

// MFAPolicy says who in an organisation must use a second factor.
type MFAPolicy string

// The MFA policies. Admins always need MFA; "everyone" extends it to all.
const (
	MFAAdmins   MFAPolicy = "admins"
	MFAEveryone MFAPolicy = "everyone"
)

// Prefectures are the 47 prefectures in JIS X 0401 order.
var Prefectures = []string{
	"北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
	"埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
	"岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
	"鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
	"佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
}

// Org is an organisation: a medical institution, a vendor or an ISAC operator.
type Org struct {
	ID          string    `json:"id"`
	Kind        OrgKind   `json:"kind"`
	Name        string    `json:"name"`
	NameKana    string    `json:"name_kana"`
	Prefecture  string    `json:"prefecture"`
	MedicalCode string    `json:"medical_code"`
	Beds        *int      `json:"beds"`
	MFAPolicy   MFAPolicy `json:"mfa_policy"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// OrgInput is what a person may set on an organisation.
type OrgInput struct {
	Kind        OrgKind   `json:"kind"`
	Name        string    `json:"name"`
	NameKana    string    `json:"name_kana"`
	Prefecture  string    `json:"prefecture"`
	MedicalCode string    `json:"medical_code"`
	Beds        *int      `json:"beds"`
	MFAPolicy   MFAPolicy `json:"mfa_policy"`
}

var (
	kanaRe        = regexp.MustCompile(`^[\p{Katakana}\p{Hiragana}ー・\s　（）()A-Za-z0-9]*$`)
	medicalCodeRe = regexp.MustCompile(`^[0-9]{7}$|^[0-9]{10}$`)
)

// Validate normalises the input and returns the first problem as an
// Invalid field error.
func (in *OrgInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.NameKana = strings.TrimSpace(in.NameKana)
	in.Prefecture = strings.TrimSpace(in.Prefecture)
	in.MedicalCode = strings.ReplaceAll(strings.TrimSpace(in.MedicalCode), "-", "")
	if in.MFAPolicy == "" {
		in.MFAPolicy = MFAAdmins
	}
	if !in.Kind.Valid() {
		return apperr.Field("kind", "auth.org.kind_invalid")
	}
	if in.Name == "" {
		return apperr.Field("name", "auth.org.name_required")
	}
	if utf8.RuneCountInString(in.Name) > 200 {
		return apperr.Field("name", "auth.org.name_too_long", 200)
	}
	if !kanaRe.MatchString(in.NameKana) || utf8.RuneCountInString(in.NameKana) > 200 {
		return apperr.Field("name_kana", "auth.org.kana_invalid")
	}
	if in.Prefecture != "" {
		ok := false
		for _, p := range Prefectures {
			if p == in.Prefecture {
				ok = true
			}
		}
		if !ok {
			return apperr.Field("prefecture", "auth.org.prefecture_invalid")
		}
	}
	if in.MedicalCode != "" && !medicalCodeRe.MatchString(in.MedicalCode) {
		return apperr.Field("medical_code", "auth.org.medical_code_invalid")
	}
	if in.Beds != nil && (*in.Beds < 0 || *in.Beds > 10000) {
		return apperr.Field("beds", "auth.org.beds_invalid")
	}
	if in.MFAPolicy != MFAAdmins && in.MFAPolicy != MFAEveryone {
		return apperr.Field("mfa_policy", "auth.org.mfa_policy_invalid")
	}
	return nil
}

const orgColumns = `id, kind, name, name_kana, prefecture, medical_code, beds, mfa_policy, created_at, updated_at`

func scanOrg(row interface{ Scan(...any) error }) (*Org, error) {
	var o Org
	var beds sql.NullInt64
	if err := row.Scan(&o.ID, &o.Kind, &o.Name, &o.NameKana, &o.Prefecture, &o.MedicalCode, &beds, &o.MFAPolicy, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, db.ScanErr(err)
	}
	if beds.Valid {
		b := int(beds.Int64)
		o.Beds = &b
	}
	return &o, nil
}

// CreateOrg inserts a new organisation after validating in.
func CreateOrg(ctx context.Context, q db.Querier, in OrgInput, now time.Time) (*Org, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	o := &Org{ID: db.NewID(), Kind: in.Kind, Name: in.Name, NameKana: in.NameKana, Prefecture: in.Prefecture,
		MedicalCode: in.MedicalCode, Beds: in.Beds, MFAPolicy: in.MFAPolicy, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	_, err := q.Exec(ctx, `INSERT INTO organizations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.Kind, o.Name, o.NameKana, o.Prefecture, o.MedicalCode, nullInt(o.Beds), o.MFAPolicy, o.CreatedAt, o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// GetOrg returns the organisation with id if p may see it: its members and
// ISAC operators. Otherwise it returns db.ErrNotFound.
func GetOrg(ctx context.Context, q db.Querier, p *Principal, id string) (*Org, error) {
	if !p.CanSeeOrg(id) {
		return nil, db.ErrNotFound
	}
	return getOrg(ctx, q, id)
}

func getOrg(ctx context.Context, q db.Querier, id string) (*Org, error) {
	if !db.ValidID(id) {
		return nil, db.ErrNotFound
	}
	return scanOrg(q.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
}

// CreateOrgAs registers a new organisation for p: only ISAC operator
// admins may ("org.create"). CreateOrg is the unchecked form for the
// command line and the demo data.
func CreateOrgAs(ctx context.Context, q db.Querier, p *Principal, in OrgInput, now time.Time) (*Org, error) {
	if err := Authorize(p, "org.create", Target{}); err != nil {
		return nil, err
	}
	return CreateOrg(ctx, q, in, now)
}

// orgFieldActions names, for each field of an organisation, the action of
// the permission table that changes it.
var orgFieldActions = []struct{ field, action string }{
	{"kind", "org.update.kind"},
	{"name", "org.update"},
	{"name_kana", "org.update"},
	{"prefecture", "org.update"},
	{"medical_code", "org.update"},
	{"beds", "org.update"},
	{"mfa_policy", "org.update.mfa_policy"},
}

// changedFields lists the fields of in that differ from o, in the order of
// orgFieldActions.
func changedFields(o *Org, in *OrgInput) []string {
	var out []string
	for _, f := range orgFieldActions {
		var same bool
		switch f.field {
		case "kind":
			same = in.Kind == o.Kind
		case "name":
			same = in.Name == o.Name
		case "name_kana":
			same = in.NameKana == o.NameKana
		case "prefecture":
			same = in.Prefecture == o.Prefecture
		case "medical_code":
			same = in.MedicalCode == o.MedicalCode
		case "beds":
			same = (in.Beds == nil) == (o.Beds == nil) && (in.Beds == nil || *in.Beds == *o.Beds)
		case "mfa_policy":
			same = in.MFAPolicy == o.MFAPolicy
		}
		if !same {
			out = append(out, f.field)
		}
	}
	return out
}

func fieldAction(field string) string {
	for _, f := range orgFieldActions {
		if f.field == field {
			return f.action
		}
	}
	return "org.update"
}

// UpdateOrg changes an organisation, field by field as the permission
// table says: its kind only ISAC operator admins ("org.update.kind"); its
// name, kana, prefecture, medical code and beds its own admins and ISAC
// operator admins ("org.update"); its MFA policy only its own admins
// ("org.update.mfa_policy"). A change touching any field p may not change
// is refused as a whole (Forbidden, naming the field) and nothing
// changes. An empty Kind or MFAPolicy in in keeps the current value. The
// last ISAC operator organisation keeps its kind. When an organisation
// becomes an ISAC operator, the admins of both it and p's organisation
// are mailed. A change made from outside the organisation (by an ISAC
// operator) is mailed to its admins: each field, its old and new value,
// who changed it and when.
func UpdateOrg(ctx context.Context, q db.Querier, n *Notices, p *Principal, id string, in OrgInput, now time.Time) (before, after *Org, err error) {
	t := Target{OrgID: id}
	mayAny := false
	for _, a := range []string{"org.update", "org.update.kind", "org.update.mfa_policy"} {
		mayAny = mayAny || Allowed(p, a, t)
	}
	if !mayAny && (!p.CanSeeOrg(id) || !p.CanWrite()) {
		// Another organisation looks missing; a read-only principal is
		// told so.
		return nil, nil, Authorize(p, "org.update", t)
	}
	before, err = getOrg(ctx, q, id)
	if err != nil {
		return nil, nil, err
	}
	if in.Kind == "" {
		in.Kind = before.Kind
	}
	if in.MFAPolicy == "" {
		in.MFAPolicy = before.MFAPolicy
	}
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	changed := changedFields(before, &in)
	for _, f := range changed {
		// p may change some field of this organisation, so a field it
		// may not change is forbidden (never "not found").
		if !Allowed(p, fieldAction(f), t) {
			return nil, nil, &apperr.Error{Code: apperr.Forbidden, Key: "auth.org.field_forbidden", Args: []any{f}, Field: f}
		}
	}
	if len(changed) == 0 {
		if !mayAny {
			return nil, nil, Authorize(p, "org.update", t)
		}
		return before, before, nil
	}
	if before.Kind == KindISAC && in.Kind != KindISAC {
		if tx, ok := q.(*db.Tx); ok {
			if err := tx.Lock(ctx, "auth:operators"); err != nil {
				return nil, nil, err
			}
		}
		var others int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM organizations WHERE kind = 'isac' AND id <> ?`, id).Scan(&others); err != nil {
			return nil, nil, err
		}
		if others == 0 {
			return nil, nil, &apperr.Error{Code: apperr.Conflict, Key: "auth.org.last_operator", Field: "kind"}
		}
	}
	_, err = q.Exec(ctx, `UPDATE organizations SET kind = ?, name = ?, name_kana = ?, prefecture = ?, medical_code = ?, beds = ?, mfa_policy = ?, updated_at = ? WHERE id = ?`,
		in.Kind, in.Name, in.NameKana, in.Prefecture, in.MedicalCode, nullInt(in.Beds), in.MFAPolicy, now, id)
	if err != nil {
		return nil, nil, err
	}
	after, err = getOrg(ctx, q, id)
	if err != nil {
		return nil, nil, err
	}
	becameOperator := before.Kind != KindISAC && after.Kind == KindISAC
	if p.OrgID != id && !(becameOperator && onlyKindChanged(before, after)) {
		// Someone outside the organisation (an ISAC operator) changed its
		// record: its admins hear of it, as they do of membership changes
		// (a change of kind alone to operator has its own notice below).
		if err := n.send(ctx, q, after, noticeOrgChanged, who(p), oneLine(p.OrgName), when(now), n.orgChangeList(before, after),
			contact(p)); err != nil {
			return nil, nil, err
		}
	}
	if becameOperator {
		if err := n.send(ctx, q, after, noticeOperator, who(p), oneLine(p.OrgName), oneLine(after.Name)); err != nil {
			return nil, nil, err
		}
		if p.OrgID != id {
			self, err := getOrg(ctx, q, p.OrgID)
			if err != nil {
				return nil, nil, err
			}
			if err := n.send(ctx, q, self, noticeOperator, who(p), oneLine(p.OrgName), oneLine(after.Name)); err != nil {
				return nil, nil, err
			}
		}
	}
	return before, after, nil
}

// OrgUpdateAction is the audit action of an update: "org.update.kind" when
// the kind changed (an organisation made an ISAC operator, or no longer
// one, stands out in the log), "org.update" otherwise.
func OrgUpdateAction(before, after *Org) string {
	if before != nil && after != nil && before.Kind != after.Kind {
		return "org.update.kind"
	}
	return "org.update"
}

// OrgChanges lists the fields that differ between two versions of an
// organisation as {"field": {"from": x, "to": y}}, for the audit entry of
// an update, whichever surface made it. "operator" is set when the
// organisation became an ISAC operator.
func OrgChanges(before, after *Org) map[string]any {
	out := map[string]any{}
	val := func(o *Org, f string) any {
		switch f {
		case "kind":
			return string(o.Kind)
		case "name":
			return o.Name
		case "name_kana":
			return o.NameKana
		case "prefecture":
			return o.Prefecture
		case "medical_code":
			return o.MedicalCode
		case "beds":
			if o.Beds == nil {
				return nil
			}
			return *o.Beds
		case "mfa_policy":
			return string(o.MFAPolicy)
		}
		return nil
	}
	in := OrgInput{Kind: after.Kind, Name: after.Name, NameKana: after.NameKana, Prefecture: after.Prefecture,
		MedicalCode: after.MedicalCode, Beds: after.Beds, MFAPolicy: after.MFAPolicy}
	for _, f := range changedFields(before, &in) {
		out[f] = map[string]any{"from": val(before, f), "to": val(after, f)}
	}
	if before.Kind != KindISAC && after.Kind == KindISAC {
		out["operator"] = true
	}
	return out
}

// OrgFilter narrows ListOrgs. Cursor continues a page of PageOrgs.
type OrgFilter struct {
	Kind       OrgKind
	Prefecture string
	Query      string
	Limit      int
	Offset     int
	Cursor     string
}

// ListOrgs lists organisations for an ISAC operator; anyone else gets only
// the organisations they are a member of.
func ListOrgs(ctx context.Context, q db.Querier, p *Principal, f OrgFilter) ([]*Org, error) {
	orgs, _, err := PageOrgs(ctx, q, p, f)
	return orgs, err
}

type orgKey struct {
	Kana string `json:"k"`
	Name string `json:"n"`
	ID   string `json:"i"`
}

var orgOrder = Keyset[*Org, orgKey]{
	Order:  []SortKey{{"name_kana", false}, {"name", false}, {"id", false}},
	Key:    func(o *Org) orgKey { return orgKey{o.NameKana, o.Name, o.ID} },
	Values: func(k orgKey) []any { return []any{k.Kana, k.Name, k.ID} },
}

// PageOrgs is ListOrgs one page at a time (f.Limit, 1–500, 100 by
// default): the page after f.Cursor (skipping f.Offset more), and the
// cursor of the next.
func PageOrgs(ctx context.Context, q db.Querier, p *Principal, f OrgFilter) ([]*Org, string, error) {
	where := []string{"1 = 1"}
	var args []any
	if !p.IsOperator() {
		where = append(where, "id IN (SELECT org_id FROM memberships WHERE user_id = ?)")
		args = append(args, p.UserID)
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if f.Prefecture != "" {
		where = append(where, "prefecture = ?")
		args = append(args, f.Prefecture)
	}
	if f.Query != "" {
		where = append(where, "(name LIKE ? ESCAPE '\\' OR name_kana LIKE ? ESCAPE '\\' OR medical_code = ?)")
		like := "%" + escapeLike(f.Query) + "%"
		args = append(args, like, like, f.Query)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	after, more, err := orgOrder.After(Page{Cursor: f.Cursor})
	if err != nil {
		return nil, "", err
	}
	args = append(append(args, more...), f.Limit+1, f.Offset)
	orgs, err := db.QueryAll(ctx, q, scanOrg, `SELECT `+orgColumns+` FROM organizations WHERE `+strings.Join(where, " AND ")+after+orgOrder.OrderBy()+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", err
	}
	orgs, next := orgOrder.Cut(Page{Limit: f.Limit}, orgs)
	return orgs, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// onlyKindChanged reports whether the kind is the one field of the record
// that differs between before and after.
func onlyKindChanged(before, after *Org) bool {
	in := OrgInput{Kind: after.Kind, Name: after.Name, NameKana: after.NameKana, Prefecture: after.Prefecture,
		MedicalCode: after.MedicalCode, Beds: after.Beds, MFAPolicy: after.MFAPolicy}
	f := changedFields(before, &in)
	return len(f) == 1 && f[0] == "kind"
}
