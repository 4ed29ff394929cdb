package assess

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// MaxFileSize is the largest evidence or vendor file accepted.
const MaxFileSize = 10 << 20

// Link types of evidence that points at a record instead of a file.
var LinkTypes = []string{"asset", "system", "vendor", "document", "backup", "finding", "url"}

// allowedTypes maps the sniffed content type to the extensions accepted
// for it.
var allowedTypes = map[string][]string{
	"application/pdf":           {".pdf"},
	"image/png":                 {".png"},
	"image/jpeg":                {".jpg", ".jpeg"},
	"text/plain; charset=utf-8": {".txt", ".csv", ".log"},
	"application/zip":           {".xlsx", ".docx", ".pptx", ".zip"},
}

// File is a stored upload (its content is read separately).
type File struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
}

// Evidence is a file or a link attached to an item of a sheet.
type Evidence struct {
	ID        string    `json:"id"`
	SheetID   string    `json:"sheet_id"`
	ItemID    string    `json:"item_id"`
	File      *File     `json:"file,omitempty"`
	LinkType  string    `json:"link_type,omitempty"`
	LinkRef   string    `json:"link_ref,omitempty"`
	Note      string    `json:"note,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// CheckFile refuses files that are empty, too large, or whose content is
// not one of the accepted kinds (PDF, PNG, JPEG, plain text/CSV, Office
// documents), whatever their name says.
func CheckFile(name string, data []byte) (contentType string, err error) {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, "\\", "/")))
	switch {
	case len(data) == 0:
		return "", apperr.Field("file", "assess.file.empty")
	case len(data) > MaxFileSize:
		return "", apperr.New(apperr.TooLarge, "assess.file.too_large", MaxFileSize>>20)
	case name == "" || name == "." || name == "/" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name):
		return "", apperr.Field("file", "assess.file.bad_name")
	}
	ct := http.DetectContentType(data)
	if strings.HasPrefix(ct, "text/plain") {
		if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
			return "", apperr.Field("file", "assess.file.bad_type")
		}
		ct = "text/plain; charset=utf-8"
	}
	exts, ok := allowedTypes[ct]
	if !ok {
		return "", apperr.Field("file", "assess.file.bad_type")
	}
	ext := strings.ToLower(path.Ext(name))
	for _, e := range exts {
		if e == ext {
			if ct == "application/zip" && ext != ".zip" {
				return officeType(ext), nil
			}
			return ct, nil
		}
	}
	return "", apperr.Field("file", "assess.file.bad_type")
}

func officeType(ext string) string {
	switch ext {
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	}
	return "application/zip"
}

// StoreFile checks and stores an uploaded file of orgID.
func StoreFile(ctx context.Context, q db.Querier, orgID, actorID, name string, data []byte, now time.Time) (*File, error) {
	ct, err := CheckFile(name, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f := &File{ID: db.NewID(), Name: path.Base(strings.ReplaceAll(strings.TrimSpace(name), "\\", "/")), ContentType: ct,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: now}
	_, err = q.Exec(ctx, `INSERT INTO assess_files (id, org_id, name, content_type, size, sha256, content, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, orgID, f.Name, f.ContentType, f.Size, f.SHA256, data, actorID, now)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReadFile returns a file of orgID with its content.
func ReadFile(ctx context.Context, q db.Querier, orgID, id string) (*File, []byte, error) {
	var f File
	var data []byte
	err := db.ScanErr(q.QueryRow(ctx, `SELECT id, name, content_type, size, sha256, created_at, content FROM assess_files WHERE id = ? AND org_id = ?`,
		id, orgID).Scan(&f.ID, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedAt, &data))
	if err != nil {
		return nil, nil, err
	}
	return &f, data, nil
}

// EvidenceInput is a new piece of evidence: a file (Name and Data) or a
// link (LinkType and LinkRef), with an optional note.
type EvidenceInput struct {
	Name     string
	Data     []byte
	LinkType string
	LinkRef  string
	Note     string
}

// AddEvidence attaches a file or a link to an item of a sheet of orgID.
// Linked inventory records must belong to the organisation.
func AddEvidence(ctx context.Context, q db.Querier, e *Edition, orgID, sheetID, itemID, actorID string, in EvidenceInput, now time.Time) (*Evidence, error) {
	s, err := GetSheet(ctx, q, orgID, sheetID)
	if err != nil {
		return nil, err
	}
	if e.Item(itemID) == nil || s.EditionID != e.ID {
		return nil, db.ErrNotFound
	}
	in.Note = strings.TrimSpace(in.Note)
	in.LinkRef = strings.TrimSpace(in.LinkRef)
	if utf8.RuneCountInString(in.Note) > 500 {
		return nil, apperr.Field("note", "assess.evidence.note_too_long", 500)
	}
	ev := &Evidence{ID: db.NewID(), SheetID: sheetID, ItemID: itemID, Note: in.Note, CreatedBy: actorID, CreatedAt: now}
	var fileID any
	switch {
	case len(in.Data) > 0 && in.LinkType != "":
		return nil, apperr.Field("file", "assess.evidence.file_or_link")
	case len(in.Data) > 0 || in.Name != "":
		f, err := StoreFile(ctx, q, orgID, actorID, in.Name, in.Data, now)
		if err != nil {
			return nil, err
		}
		ev.File, fileID = f, f.ID
	case in.LinkType != "":
		if err := checkLink(ctx, q, orgID, in.LinkType, in.LinkRef); err != nil {
			return nil, err
		}
		ev.LinkType, ev.LinkRef = in.LinkType, in.LinkRef
	default:
		return nil, apperr.Field("file", "assess.evidence.nothing")
	}
	_, err = q.Exec(ctx, `INSERT INTO assess_evidence (id, org_id, sheet_id, item_id, file_id, link_type, link_ref, note, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.ID, orgID, sheetID, itemID, fileID, ev.LinkType, ev.LinkRef, ev.Note, actorID, now)
	if err != nil {
		return nil, err
	}
	return ev, nil
}

var linkTables = map[string]string{"asset": "inv_assets", "system": "inv_systems", "vendor": "inv_vendors", "document": "inv_documents"}

func checkLink(ctx context.Context, q db.Querier, orgID, typ, ref string) error {
	ok := false
	for _, t := range LinkTypes {
		ok = ok || t == typ
	}
	if !ok {
		return apperr.Field("link_type", "assess.evidence.link_type_invalid")
	}
	if ref == "" || utf8.RuneCountInString(ref) > 500 {
		return apperr.Field("link_ref", "assess.evidence.link_ref_invalid")
	}
	if typ == "url" && !strings.HasPrefix(ref, "https://") && !strings.HasPrefix(ref, "/") {
		return apperr.Field("link_ref", "assess.evidence.link_ref_invalid")
	}
	if table, ok := linkTables[typ]; ok {
		var one int
		err := db.ScanErr(q.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = ? AND org_id = ?`, ref, orgID).Scan(&one))
		if apperr.Is(err, apperr.NotFound) {
			return apperr.Field("link_ref", "assess.evidence.link_not_found")
		}
		return err
	}
	return nil
}

// ListEvidence lists a sheet's evidence, of one item when itemID is set.
func ListEvidence(ctx context.Context, q db.Querier, orgID, sheetID, itemID string) ([]*Evidence, error) {
	where := `e.org_id = ? AND e.sheet_id = ?`
	args := []any{orgID, sheetID}
	if itemID != "" {
		where += ` AND e.item_id = ?`
		args = append(args, itemID)
	}
	rows, err := q.Query(ctx, `SELECT e.id, e.sheet_id, e.item_id, e.link_type, e.link_ref, e.note, e.created_by, e.created_at,
		COALESCE(f.id, ''), COALESCE(f.name, ''), COALESCE(f.content_type, ''), COALESCE(f.size, 0), COALESCE(f.sha256, '')
		FROM assess_evidence e LEFT JOIN assess_files f ON f.id = e.file_id AND f.org_id = e.org_id
		WHERE `+where+` ORDER BY e.item_id, e.created_at, e.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Evidence
	for rows.Next() {
		var ev Evidence
		var f File
		if err := rows.Scan(&ev.ID, &ev.SheetID, &ev.ItemID, &ev.LinkType, &ev.LinkRef, &ev.Note, &ev.CreatedBy, &ev.CreatedAt,
			&f.ID, &f.Name, &f.ContentType, &f.Size, &f.SHA256); err != nil {
			return nil, err
		}
		if f.ID != "" {
			f.CreatedAt = ev.CreatedAt
			ev.File = &f
		}
		out = append(out, &ev)
	}
	return out, rows.Err()
}

// DeleteEvidence removes a piece of evidence (and its file) of orgID.
func DeleteEvidence(ctx context.Context, q db.Querier, orgID, sheetID, id string) (*Evidence, error) {
	evs, err := ListEvidence(ctx, q, orgID, sheetID, "")
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if ev.ID != id {
			continue
		}
		if _, err := q.Exec(ctx, `DELETE FROM assess_evidence WHERE id = ? AND org_id = ?`, id, orgID); err != nil {
			return nil, err
		}
		if ev.File != nil {
			if _, err := q.Exec(ctx, `DELETE FROM assess_files WHERE id = ? AND org_id = ?`, ev.File.ID, orgID); err != nil {
				return nil, err
			}
		}
		return ev, nil
	}
	return nil, db.ErrNotFound
}
