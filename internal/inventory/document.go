package inventory

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// BlobStore keeps the bytes of uploaded documents under keys made of
// lower-case letters, digits, '-' and '/'.
type BlobStore interface {
	Put(ctx context.Context, key string, data []byte) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// DiskBlobs is a BlobStore on the local disk, one file per key under Dir.
type DiskBlobs struct {
	Dir string
}

// NewDiskBlobs returns a DiskBlobs in dir, creating the folder (mode 0700).
func NewDiskBlobs(dir string) (*DiskBlobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("inventory: blob folder: %w", err)
	}
	return &DiskBlobs{Dir: dir}, nil
}

func (d *DiskBlobs) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("inventory: bad blob key %q", key)
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '/') {
			return "", fmt.Errorf("inventory: bad blob key %q", key)
		}
	}
	return filepath.Join(d.Dir, filepath.FromSlash(key)), nil
}

// Put writes data under key atomically (temporary file, then rename).
func (d *DiskBlobs) Put(_ context.Context, key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p)
}

// Open returns the bytes stored under key, or an error wrapping
// os.ErrNotExist.
func (d *DiskBlobs) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Delete removes key; a missing key is not an error.
func (d *DiskBlobs) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DocumentKind is the kind of a system document.
type DocumentKind string

// The document kinds: 製造業者による医療情報セキュリティ開示書 (MDS),
// サービス事業者による医療情報セキュリティ開示書 (SDS), and others.
const (
	DocMDS   DocumentKind = "mds"
	DocSDS   DocumentKind = "sds"
	DocOther DocumentKind = "other"
)

// DocumentKinds lists every DocumentKind.
var DocumentKinds = []DocumentKind{DocMDS, DocSDS, DocOther}

// Document is the metadata of a file attached to a system.
type Document struct {
	ID          string       `json:"id"`
	OrgID       string       `json:"org_id"`
	SystemID    string       `json:"system_id"`
	Kind        DocumentKind `json:"kind"`
	Title       string       `json:"title"`
	Filename    string       `json:"filename"`
	ContentType string       `json:"content_type"`
	Size        int64        `json:"size"`
	SHA256      string       `json:"sha256"`
	UploadedBy  string       `json:"uploaded_by"`
	UploadedAt  time.Time    `json:"uploaded_at"`
}

// Document content types accepted by Upload (sniffed from the bytes, never
// taken from the client).
const (
	TypePDF  = "application/pdf"
	TypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	TypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
)

// DefaultMaxDocumentSize is the upload limit when Documents.MaxSize is 0.
const DefaultMaxDocumentSize = 20 << 20

// Documents stores system documents: metadata in the database, bytes in
// Blobs.
type Documents struct {
	Blobs   BlobStore
	MaxSize int64
}

// NewDocuments returns Documents keeping files on disk under dir with a size
// limit of maxSize bytes (DefaultMaxDocumentSize when 0).
func NewDocuments(dir string, maxSize int64) (*Documents, error) {
	b, err := NewDiskBlobs(dir)
	if err != nil {
		return nil, err
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxDocumentSize
	}
	return &Documents{Blobs: b, MaxSize: maxSize}, nil
}

// SniffDocumentType returns the content type of data when it is one of the
// accepted kinds (PDF, xlsx, docx, PNG, JPEG), or "".
func SniffDocumentType(data []byte) string {
	switch t := http.DetectContentType(data); t {
	case TypePDF, TypePNG, TypeJPEG:
		return t
	case "application/zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil || len(zr.File) > 10000 {
			return ""
		}
		for _, f := range zr.File {
			switch f.Name {
			case "xl/workbook.xml":
				return TypeXLSX
			case "word/document.xml":
				return TypeDOCX
			}
		}
	}
	return ""
}

func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "" {
		name = "document"
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

func docKey(orgID, id string) string { return "documents/" + orgID + "/" + id }

// DocumentInput describes an upload.
type DocumentInput struct {
	SystemID string
	Kind     DocumentKind
	Title    string
	Filename string
}

// Upload reads the file from r (at most MaxSize bytes, else a TooLarge
// error), accepts it only when its sniffed type is PDF, xlsx, docx, PNG or
// JPEG, stores the bytes and records the document for the organisation's
// system. When the database write fails the stored bytes are removed; a
// caller whose surrounding transaction later rolls back calls DeleteBlob.
func (s *Documents) Upload(ctx context.Context, q db.Querier, orgID, actorID string, in DocumentInput, r io.Reader, now time.Time) (Document, error) {
	if !oneOf(in.Kind, DocumentKinds) {
		return Document{}, apperr.Field("kind", "inventory.error.bad_choice")
	}
	if _, err := GetSystem(ctx, q, orgID, in.SystemID); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return Document{}, apperr.Field("system_id", "inventory.error.ref_not_found")
		}
		return Document{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, s.MaxSize+1))
	if err != nil {
		return Document{}, err
	}
	if int64(len(data)) > s.MaxSize {
		return Document{}, apperr.New(apperr.TooLarge, "inventory.error.file_too_large", s.MaxSize>>20)
	}
	if len(data) == 0 {
		return Document{}, apperr.Field("file", "inventory.error.empty_file")
	}
	ct := SniffDocumentType(data)
	if ct == "" {
		return Document{}, apperr.Field("file", "inventory.error.document_type")
	}
	sum := sha256.Sum256(data)
	d := Document{ID: db.NewID(), OrgID: orgID, SystemID: in.SystemID, Kind: in.Kind, Title: strings.TrimSpace(in.Title),
		Filename: cleanFilename(in.Filename), ContentType: ct, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		UploadedBy: actorID, UploadedAt: now.UTC().Truncate(time.Microsecond)}
	if err := s.Blobs.Put(ctx, docKey(orgID, d.ID), data); err != nil {
		return Document{}, err
	}
	_, err = q.Exec(ctx, `INSERT INTO inv_documents (id, org_id, system_id, kind, title, filename, content_type, size, sha256, uploaded_by, uploaded_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, orgID, d.SystemID, string(d.Kind), d.Title, d.Filename, d.ContentType, d.Size, d.SHA256, d.UploadedBy, d.UploadedAt)
	if err != nil {
		_ = s.Blobs.Delete(ctx, docKey(orgID, d.ID))
		return Document{}, err
	}
	return d, nil
}

// DeleteBlob removes the stored bytes of a document (after a rolled-back
// upload or a deleted system).
func (s *Documents) DeleteBlob(ctx context.Context, orgID, id string) error {
	return s.Blobs.Delete(ctx, docKey(orgID, id))
}

const docSelect = "SELECT id, org_id, system_id, kind, title, filename, content_type, size, sha256, uploaded_by, uploaded_at FROM inv_documents"

func scanDoc(r scanner) (Document, error) {
	var d Document
	err := r.Scan(&d.ID, &d.OrgID, &d.SystemID, &d.Kind, &d.Title, &d.Filename, &d.ContentType, &d.Size, &d.SHA256, &d.UploadedBy, &d.UploadedAt)
	return d, db.ScanErr(err)
}

// GetDocument returns the organisation's document id, or db.ErrNotFound.
func GetDocument(ctx context.Context, q db.Querier, orgID, id string) (Document, error) {
	return scanDoc(q.QueryRow(ctx, docSelect+" WHERE org_id = ? AND id = ?", orgID, id))
}

// Open returns the organisation's document id and its bytes; the caller
// closes the reader and serves it with d.ContentType and as an attachment.
func (s *Documents) Open(ctx context.Context, q db.Querier, orgID, id string) (Document, io.ReadCloser, error) {
	d, err := GetDocument(ctx, q, orgID, id)
	if err != nil {
		return d, nil, err
	}
	rc, err := s.Blobs.Open(ctx, docKey(orgID, id))
	return d, rc, err
}

// Delete removes the organisation's document id and its bytes and returns
// its metadata.
func (s *Documents) Delete(ctx context.Context, q db.Querier, orgID, id string) (Document, error) {
	d, err := deleteRow(ctx, q, "inv_documents", orgID, id, GetDocument)
	if err != nil {
		return d, err
	}
	return d, s.Blobs.Delete(ctx, docKey(orgID, id))
}

// ListDocuments returns the documents of the organisation's system (all
// systems when systemID is ""), newest first.
func ListDocuments(ctx context.Context, q db.Querier, orgID, systemID string) ([]Document, error) {
	query, args := docSelect+" WHERE org_id = ?", []any{orgID}
	if systemID != "" {
		query, args = query+" AND system_id = ?", append(args, systemID)
	}
	return listRows(ctx, q, scanDoc, query+" ORDER BY uploaded_at DESC, id DESC", args...)
}
