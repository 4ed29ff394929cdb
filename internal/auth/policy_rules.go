package auth

// The rows of the permission table, one section per capability. Each row
// is the rule of one action; the use case that records the action asks
// Authorize with it. Keep a section's rows next to each other.

var (
	ownAdmins      = Grant{Scope: ScopeOwn, Roles: Admins}
	ownAdminsStaff = Grant{Scope: ScopeOwn, Roles: AdminsStaff}
	ownAnyone      = Grant{Scope: ScopeOwn, Roles: AnyRole}
	opAdmins       = Grant{Scope: ScopeService, Roles: Admins, Kinds: Operators}
	opAdminsStaff  = Grant{Scope: ScopeService, Roles: AdminsStaff, Kinds: Operators}
	selfAnyone     = Grant{Scope: ScopeSelf, Roles: AnyRole}
	// memberAdmins and memberAdminsStaff act on their own organisation's
	// registers, which only members (not the ISAC operator) keep.
	memberAdmins      = Grant{Scope: ScopeOwn, Roles: Admins, Kinds: Members}
	memberAdminsStaff = Grant{Scope: ScopeOwn, Roles: AdminsStaff, Kinds: Members}
	// opOwnAdmins are the ISAC operator's admins for the operator's own
	// objects (its TAXII feeds: the server fetches what they name).
	opOwnAdmins = Grant{Scope: ScopeOwn, Roles: Admins, Kinds: Operators}
)

// Foundation: organisations, members, tokens, audit log.
func init() {
	register(
		Rule{Action: "org.create", Writes: true, Grants: []Grant{opAdmins},
			Note: "組織の登録（最初の管理者の招待を含む）は ISAC 事務局の管理者だけ"},
		Rule{Action: "org.update", Writes: true, Grants: []Grant{ownAdmins, opAdmins},
			Note: "名称・フリガナ・所在地・医療機関コード・病床数。自組織の管理者と ISAC 事務局の管理者"},
		Rule{Action: "org.update.kind", Writes: true, Grants: []Grant{opAdmins},
			Note: "組織の種別（ISAC 事務局にすると他組織の情報が見えるため）は ISAC 事務局の管理者だけ。最後の ISAC 事務局の種別は外せない"},
		Rule{Action: "org.update.mfa_policy", Writes: true, Grants: []Grant{ownAdmins},
			Note: "二要素認証の方針は自組織の管理者だけ（ISAC 事務局もできない）"},
		Rule{Action: "org.invite", Writes: true, Grants: []Grant{ownAdmins},
			Note: "利用者の招待は自組織の管理者だけ"},
		Rule{Action: "org.invite.first", Writes: true, Grants: []Grant{opAdmins},
			Note: "有効な管理者がまだいない組織にだけ、ISAC 事務局の管理者が最初の管理者を招待できる（登録時と復旧）"},
		Rule{Action: "org.proposal", Writes: true, Grants: []Grant{opAdmins},
			Note: "管理者のいる組織への ISAC 事務局からの招待は提案になる。その組織の管理者全員にメールで知らせ、承諾されるまで招待メールは送らない"},
		Rule{Action: "org.proposal.answer", Writes: true, Grants: []Grant{ownAdmins},
			Note: "提案の承諾・辞退は提案された組織の管理者だけ"},
		Rule{Action: "org.proposal.read", Writes: false, Grants: []Grant{ownAdmins},
			Note: "届いた提案（招待先のメールアドレスを含む）の一覧は自組織の管理者だけ"},
		Rule{Action: "org.invite.revoke", Writes: true, Grants: []Grant{ownAdmins},
			Note: "招待の取り消しは自組織の管理者だけ"},
		Rule{Action: "org.member.role", Writes: true, Grants: []Grant{ownAdmins},
			Note: "役割の変更は自組織の管理者だけ（ISAC 事務局もできない）"},
		Rule{Action: "org.member.remove", Writes: true, Grants: []Grant{ownAdmins},
			Note: "利用者の削除は自組織の管理者だけ（ISAC 事務局もできない）"},
		Rule{Action: "record.read.members", Writes: false, Grants: []Grant{ownAnyone},
			Note: "利用者一覧（個人情報）は自組織の人だけ"},
		Rule{Action: "audit.read", Writes: false, Grants: []Grant{{Scope: ScopeOwn, Roles: Admins | Auditors}},
			Note: "監査ログは自組織の管理者と監査役だけ"},
		Rule{Action: "auth.token.create", Writes: false, Grants: []Grant{selfAnyone},
			Note: "API トークンは本人が自分のものだけ作れる"},
		Rule{Action: "auth.token.revoke", Writes: true, OwnSafety: true, Grants: []Grant{selfAnyone},
			Note: "API トークンの失効は本人だけ（監査役も自分のトークンは失効できる。読み取り専用トークンからは失効できない）"},
		Rule{Action: "settings.job.retry", Writes: true, Grants: []Grant{opAdmins},
			Note: "失敗した裏方の処理（メール送信など）のやり直しは ISAC 事務局の管理者だけ"},
	)
}

// Inventory (資産台帳).
func init() {
	register(
		Rule{Action: "inventory.write", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "台帳の登録・変更・削除（機器、セグメント、接続、事業者、契約、アカウント、文書、責任分界）"},
		Rule{Action: "inventory.import", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "台帳の取り込み"},
	)
}

// Vulnerability watch.
func init() {
	register(
		Rule{Action: "vuln.finding.state", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "対応状況の記録"},
		Rule{Action: "vuln.identity.set", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "機器の製品名（CPE）の訂正"},
		Rule{Action: "vuln.notifications.read", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "通知を既読にする（組織全体の既読になるため、変更できる人だけ）"},
		Rule{Action: "vuln.webhook", Writes: true, Grants: []Grant{memberAdmins},
			Note: "脆弱性通知の Webhook は自組織の管理者（ISAC 事務局には台帳も検出もない）"},
		Rule{Action: "vuln.import", Writes: true, Grants: []Grant{opAdmins},
			Note: "脆弱性情報（フィード）の取り込みは ISAC 事務局の管理者だけ"},
		Rule{Action: "vuln.aliases.change", Writes: true, Grants: []Grant{opAdmins},
			Note: "製品名の対応表の変更は ISAC 事務局の管理者だけ"},
	)
}

// Assessments (チェックリスト).
func init() {
	register(
		Rule{Action: "assess.sheet.create", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "チェックリストの作成"},
		Rule{Action: "assess.answer.save", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "回答の保存"},
		Rule{Action: "assess.evidence.add", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "証跡の追加"},
		Rule{Action: "assess.evidence.delete", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "証跡の削除"},
		Rule{Action: "assess.hint.accepted", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "台帳からの回答候補の採用"},
		Rule{Action: "assess.hint.ignored", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "台帳からの回答候補の見送り"},
		Rule{Action: "assess.sheet.share", Writes: true, Grants: []Grant{ownAdmins},
			Note: "回答を ISAC に共有するかどうかは管理者だけ"},
		Rule{Action: "assess.sheet.sign", Writes: true, Grants: []Grant{ownAdmins},
			Note: "確認・署名は管理者だけ"},
		Rule{Action: "assess.sheet.reopen", Writes: true, Grants: []Grant{ownAdmins},
			Note: "署名済みの再開は管理者だけ"},
		Rule{Action: "assess.vendor.request", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "事業者への確認依頼"},
		Rule{Action: "assess.vendor.remind", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "事業者への督促"},
		Rule{Action: "assess.vendor.file", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "事業者から紙・ファイルで届いた回答の登録"},
		Rule{Action: "assess.vendor.answer", Writes: true, Grants: []Grant{{Scope: ScopeOwn, Roles: AdminsStaff, Kinds: Suppliers}},
			Note: "事業者の回答（依頼を受けた事業者だけ）"},
		Rule{Action: "assess.survey.create", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "ISAC 調査の作成"},
		Rule{Action: "assess.survey.remind", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "ISAC 調査の督促"},
		Rule{Action: "assess.survey.close", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "ISAC 調査の締め切り"},
		Rule{Action: "assess.survey.respond", Writes: true, Grants: []Grant{memberAdminsStaff},
			Note: "ISAC 調査への回答"},
	)
}

// The actions of hospital groups, named once for their rows and the checks
// in group.go.
const (
	actionGroupCreate = "group.create"
	actionGroupDelete = "group.delete"
	actionGroupInvite = "group.invite"
	actionGroupRemove = "group.remove"
	actionGroupAccept = "group.accept"
	actionGroupLeave  = "group.leave"
)

// Hospital groups (法人グループ).
func init() {
	medicalAdmins := Grant{Scope: ScopeOwn, Roles: Admins, Kinds: Medical}
	register(
		Rule{Action: actionGroupCreate, Writes: true, Grants: []Grant{medicalAdmins},
			Note: "グループの作成は医療機関の管理者"},
		Rule{Action: actionGroupDelete, Writes: true, Grants: []Grant{medicalAdmins},
			Note: "グループを作った組織の管理者"},
		Rule{Action: actionGroupInvite, Writes: true, Grants: []Grant{medicalAdmins},
			Note: "グループへの招待（相手の組織の管理者が承諾して初めて参加）"},
		Rule{Action: actionGroupRemove, Writes: true, Grants: []Grant{medicalAdmins},
			Note: "グループからの除外"},
		Rule{Action: actionGroupAccept, Writes: true, Grants: []Grant{ownAdmins},
			Note: "招待の承諾・辞退は招待された組織の管理者"},
		Rule{Action: actionGroupLeave, Writes: true, Grants: []Grant{ownAdmins},
			Note: "グループからの脱退は参加組織の管理者"},
	)
}

// Sharing hub (情報共有).
func init() {
	authorAdminsStaff := Grant{Scope: ScopeAuthor, Roles: AdminsStaff}
	register(
		Rule{Action: "share.post.create", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "投稿"},
		Rule{Action: "share.post.label", Writes: true, Grants: []Grant{authorAdminsStaff, ownAdmins},
			Note: "TLP の変更は投稿者本人と投稿した組織の管理者だけ"},
		Rule{Action: "share.post.recipients", Writes: true, Grants: []Grant{authorAdminsStaff, ownAdmins},
			Note: "共有先の追加は投稿者本人と投稿した組織の管理者だけ（TLP が許す相手だけ: RED は個人、AMBER+STRICT は組織）"},
		Rule{Action: "share.post.reshare", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "TLP:AMBER の投稿を受け取った組織が、承諾済みの自社の顧客グループの組織にだけ転送できる"},
		Rule{Action: "share.post.delete", Writes: true, Grants: []Grant{authorAdminsStaff, ownAdmins},
			Note: "投稿の削除は投稿者本人と投稿した組織の管理者だけ"},
		Rule{Action: "share.comment", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "見られる投稿へのコメント（自組織として）"},
		Rule{Action: "share.response", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "見られる投稿への自組織の回答（影響あり・なし・調査中）"},
		Rule{Action: "share.sighting", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "見られる指標の「当院でも確認」"},
		Rule{Action: "share.subscription", Writes: true, Grants: []Grant{selfAnyone},
			Note: "通知の受け取り方は本人が自分のものだけ（監査役と読み取り専用トークンは既定のまま）"},
		Rule{Action: "share.group.create", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "顧客グループの作成"},
		Rule{Action: "share.group.create.regional", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "地域・その他の共有グループの作成は ISAC 事務局"},
		Rule{Action: "share.group.member", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "共有グループへの招待・除外はグループを持つ組織（招待された組織の管理者が承諾して初めて参加）"},
		Rule{Action: "share.group.accept", Writes: true, Grants: []Grant{ownAdmins},
			Note: "共有グループへの招待の承諾・辞退・脱退は招待された組織の管理者"},
		Rule{Action: "share.import", Writes: true, Grants: []Grant{ownAdminsStaff},
			Note: "STIX/MISP の取り込み（TAXII での送信を含む）"},
		Rule{Action: "share.webhook", Writes: true, Grants: []Grant{ownAdmins},
			Note: "共有通知の Webhook"},
		Rule{Action: "share.feed.add", Writes: true, Grants: []Grant{opOwnAdmins},
			Note: "TAXII フィードの登録は ISAC 事務局の管理者だけ（サーバが指定の URL を取りに行くため）"},
		Rule{Action: "share.feed.delete", Writes: true, Grants: []Grant{opOwnAdmins},
			Note: "TAXII フィードの削除"},
		Rule{Action: "share.feed.pull", Writes: true, Grants: []Grant{opOwnAdmins},
			Note: "TAXII フィードの取得は登録した人が今も自組織の管理者のときだけ"},
		Rule{Action: "share.warning.add", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "警告リスト（誤検知除け）の登録は ISAC 事務局"},
		Rule{Action: "share.warning.delete", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "警告リストの削除は ISAC 事務局"},
		Rule{Action: "share.warning.toggle", Writes: true, Grants: []Grant{opAdminsStaff},
			Note: "警告リストの有効・無効は ISAC 事務局"},
	)
}
