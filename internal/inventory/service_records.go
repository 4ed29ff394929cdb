package inventory

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// ActionWrite is the permission rule of every change to a register.
const ActionWrite = "inventory.write"

// write runs one change of the organisation's register: it asks the
// permission table, opens the transaction, refuses while an import is
// being applied (ErrImportApplying), runs fn and records the entry fn
// returns (none when fn returns nil: nothing changed).
func (s *Service) write(ctx context.Context, p *auth.Principal, orgID string, fn func(tx *db.Tx) (*audit.Event, error)) error {
	if err := auth.Authorize(p, ActionWrite, auth.Target{OrgID: orgID}); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := checkNotApplying(ctx, tx, orgID); err != nil {
			return err
		}
		ev, err := fn(tx)
		if err != nil || ev == nil {
			return err
		}
		ev.OrgID = orgID
		return s.Audit.Record(ctx, tx, p.Actor(), *ev)
	})
}

// historyActorOf is the actor id an asset's history records for p.
func historyActorOf(p *auth.Principal) string { return historyActor(p.Actor()) }

// actionOf is the audit action of verb (create, update, delete) on a
// record of kind objType: "inventory.<objType>.<verb>".
func actionOf(objType, verb string) string { return "inventory." + objType + "." + verb }

func changedKeys(ch []FieldChange) []string {
	out := make([]string, len(ch))
	for i, c := range ch {
		out[i] = c.Field
	}
	return out
}

// CreateAsset stores a new asset of the organisation (entry
// inventory.asset.create).
func (s *Service) CreateAsset(ctx context.Context, p *auth.Principal, orgID string, in Asset) (Asset, error) {
	var out Asset
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if out, err = CreateAsset(ctx, tx, orgID, historyActorOf(p), in, s.Now()); err != nil {
			return nil, err
		}
		return &audit.Event{Action: actionOf("asset", "create"), ObjectType: "asset", ObjectID: out.ID,
			Details: map[string]any{"name": out.Name, "kind": string(out.Kind)}}, nil
	})
	return out, err
}

// UpdateAsset changes asset id to what change makes of the stored one
// (entry inventory.asset.update, none when nothing changed). It returns
// the asset before and after.
func (s *Service) UpdateAsset(ctx context.Context, p *auth.Principal, orgID, id string, change func(cur Asset) (Asset, error)) (before, after Asset, err error) {
	err = s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		cur, err := GetAsset(ctx, tx, orgID, id)
		if err != nil {
			return nil, err
		}
		in, err := change(cur)
		if err != nil {
			return nil, err
		}
		in.ID = id
		if before, after, err = UpdateAsset(ctx, tx, orgID, historyActorOf(p), in, s.Now()); err != nil {
			return nil, err
		}
		ch := diffAssets(&before, &after)
		if len(ch) == 0 {
			return nil, nil
		}
		return &audit.Event{Action: actionOf("asset", "update"), ObjectType: "asset", ObjectID: id,
			Details: map[string]any{"name": after.Name, "changed": changedKeys(ch)}}, nil
	})
	return before, after, err
}

// DeleteAsset removes asset id (entry inventory.asset.delete) and returns
// it as it was.
func (s *Service) DeleteAsset(ctx context.Context, p *auth.Principal, orgID, id string) (Asset, error) {
	var out Asset
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if out, err = DeleteAsset(ctx, tx, orgID, historyActorOf(p), id, s.Now()); err != nil {
			return nil, err
		}
		return &audit.Event{Action: actionOf("asset", "delete"), ObjectType: "asset", ObjectID: id,
			Details: map[string]any{"name": out.Name}}, nil
	})
	return out, err
}

// recordStore is how one kind of record (not assets, which keep a history)
// is stored, and what its audit entries say about it.
type recordStore[T any] struct {
	objType string
	get     func(ctx context.Context, q db.Querier, orgID, id string, today Date) (T, error)
	create  func(ctx context.Context, q db.Querier, orgID string, v T, now time.Time) (T, error)
	update  func(ctx context.Context, q db.Querier, orgID string, v T, now time.Time) (T, T, error)
	del     func(ctx context.Context, q db.Querier, orgID, id string) (T, error)
	id      func(*T) *string
	details func(T) map[string]any
}

func undated[T any](get func(context.Context, db.Querier, string, string) (T, error)) func(context.Context, db.Querier, string, string, Date) (T, error) {
	return func(ctx context.Context, q db.Querier, orgID, id string, _ Date) (T, error) {
		return get(ctx, q, orgID, id)
	}
}

func named(name string) map[string]any { return map[string]any{"name": name} }

var (
	segmentStore = recordStore[Segment]{objType: "segment", get: undated(GetSegment), create: CreateSegment, update: UpdateSegment, del: DeleteSegment,
		id: func(x *Segment) *string { return &x.ID }, details: func(x Segment) map[string]any { return named(x.Name) }}
	commStore = recordStore[Communication]{objType: "communication", get: undated(GetCommunication), create: CreateCommunication, update: UpdateCommunication, del: DeleteCommunication,
		id: func(x *Communication) *string { return &x.ID }, details: func(x Communication) map[string]any {
			return map[string]any{"peer": x.Peer, "port": x.Port, "protocol": x.Protocol}
		}}
	connStore = recordStore[Connection]{objType: "connection", get: GetConnection, create: CreateConnection, update: UpdateConnection, del: DeleteConnection,
		id: func(x *Connection) *string { return &x.ID }, details: func(x Connection) map[string]any {
			return map[string]any{"name": x.Name, "type": string(x.Type)}
		}}
	vendorStore = recordStore[Vendor]{objType: "vendor", get: undated(GetVendor), create: CreateVendor, update: UpdateVendor, del: DeleteVendor,
		id: func(x *Vendor) *string { return &x.ID }, details: func(x Vendor) map[string]any { return named(x.Name) }}
	systemStore = recordStore[System]{objType: "system", get: undated(GetSystem), create: CreateSystem, update: UpdateSystem, del: DeleteSystem,
		id: func(x *System) *string { return &x.ID }, details: func(x System) map[string]any { return named(x.Name) }}
	contractStore = recordStore[Contract]{objType: "contract", get: undated(GetContract), create: CreateContract, update: UpdateContract, del: DeleteContract,
		id: func(x *Contract) *string { return &x.ID }, details: func(x Contract) map[string]any {
			return map[string]any{"title": x.Title, "vendor_id": x.VendorID}
		}}
	accountStore = recordStore[Account]{objType: "account", get: GetAccount, create: CreateAccount, update: UpdateAccount, del: DeleteAccount,
		id: func(x *Account) *string { return &x.ID }, details: func(x Account) map[string]any {
			return map[string]any{"username": x.Username, "kind": string(x.Kind)}
		}}
)

func createRecord[T any](s *Service, ctx context.Context, p *auth.Principal, orgID string, st recordStore[T], in T) (T, error) {
	var out T
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if out, err = st.create(ctx, tx, orgID, in, s.Now()); err != nil {
			return nil, err
		}
		return &audit.Event{Action: actionOf(st.objType, "create"), ObjectType: st.objType, ObjectID: *st.id(&out), Details: st.details(out)}, nil
	})
	return out, err
}

func updateRecord[T any](s *Service, ctx context.Context, p *auth.Principal, orgID, id string, st recordStore[T], change func(cur T) (T, error)) (T, error) {
	var out T
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		cur, err := st.get(ctx, tx, orgID, id, DateOf(s.Now()))
		if err != nil {
			return nil, err
		}
		in, err := change(cur)
		if err != nil {
			return nil, err
		}
		*st.id(&in) = id
		if _, out, err = st.update(ctx, tx, orgID, in, s.Now()); err != nil {
			return nil, err
		}
		return &audit.Event{Action: actionOf(st.objType, "update"), ObjectType: st.objType, ObjectID: id, Details: st.details(out)}, nil
	})
	return out, err
}

func deleteRecord[T any](s *Service, ctx context.Context, p *auth.Principal, orgID, id string, st recordStore[T], before func(tx *db.Tx) error) (T, error) {
	var out T
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		if before != nil {
			if err := before(tx); err != nil {
				return nil, err
			}
		}
		var err error
		if out, err = st.del(ctx, tx, orgID, id); err != nil {
			return nil, err
		}
		return &audit.Event{Action: actionOf(st.objType, "delete"), ObjectType: st.objType, ObjectID: id, Details: st.details(out)}, nil
	})
	return out, err
}

// Change is how an update makes the new record from the stored one: a
// form sets every field, an API merge patch lays its fields over cur.
type Change[T any] func(cur T) (T, error)

// Replace is the Change that stores v as it is.
func Replace[T any](v T) Change[T] { return func(T) (T, error) { return v, nil } }

// CreateSegment stores a new network segment (inventory.segment.create).
func (s *Service) CreateSegment(ctx context.Context, p *auth.Principal, orgID string, in Segment) (Segment, error) {
	return createRecord(s, ctx, p, orgID, segmentStore, in)
}

// UpdateSegment changes segment id (inventory.segment.update).
func (s *Service) UpdateSegment(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Segment]) (Segment, error) {
	return updateRecord(s, ctx, p, orgID, id, segmentStore, change)
}

// DeleteSegment removes segment id (inventory.segment.delete).
func (s *Service) DeleteSegment(ctx context.Context, p *auth.Principal, orgID, id string) (Segment, error) {
	return deleteRecord(s, ctx, p, orgID, id, segmentStore, nil)
}

// CreateCommunication stores a new allowed communication
// (inventory.communication.create).
func (s *Service) CreateCommunication(ctx context.Context, p *auth.Principal, orgID string, in Communication) (Communication, error) {
	return createRecord(s, ctx, p, orgID, commStore, in)
}

// UpdateCommunication changes allowed communication id
// (inventory.communication.update).
func (s *Service) UpdateCommunication(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Communication]) (Communication, error) {
	return updateRecord(s, ctx, p, orgID, id, commStore, change)
}

// DeleteCommunication removes allowed communication id
// (inventory.communication.delete).
func (s *Service) DeleteCommunication(ctx context.Context, p *auth.Principal, orgID, id string) (Communication, error) {
	return deleteRecord(s, ctx, p, orgID, id, commStore, nil)
}

// CreateConnection stores a new external connection
// (inventory.connection.create).
func (s *Service) CreateConnection(ctx context.Context, p *auth.Principal, orgID string, in Connection) (Connection, error) {
	return createRecord(s, ctx, p, orgID, connStore, in)
}

// UpdateConnection changes external connection id
// (inventory.connection.update).
func (s *Service) UpdateConnection(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Connection]) (Connection, error) {
	return updateRecord(s, ctx, p, orgID, id, connStore, change)
}

// DeleteConnection removes external connection id
// (inventory.connection.delete).
func (s *Service) DeleteConnection(ctx context.Context, p *auth.Principal, orgID, id string) (Connection, error) {
	return deleteRecord(s, ctx, p, orgID, id, connStore, nil)
}

// CreateVendor stores a new vendor (inventory.vendor.create).
func (s *Service) CreateVendor(ctx context.Context, p *auth.Principal, orgID string, in Vendor) (Vendor, error) {
	return createRecord(s, ctx, p, orgID, vendorStore, in)
}

// UpdateVendor changes vendor id (inventory.vendor.update).
func (s *Service) UpdateVendor(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Vendor]) (Vendor, error) {
	return updateRecord(s, ctx, p, orgID, id, vendorStore, change)
}

// DeleteVendor removes vendor id and its contracts (inventory.vendor.delete).
func (s *Service) DeleteVendor(ctx context.Context, p *auth.Principal, orgID, id string) (Vendor, error) {
	return deleteRecord(s, ctx, p, orgID, id, vendorStore, nil)
}

// CreateSystem stores a new system (inventory.system.create).
func (s *Service) CreateSystem(ctx context.Context, p *auth.Principal, orgID string, in System) (System, error) {
	return createRecord(s, ctx, p, orgID, systemStore, in)
}

// UpdateSystem changes system id (inventory.system.update).
func (s *Service) UpdateSystem(ctx context.Context, p *auth.Principal, orgID, id string, change Change[System]) (System, error) {
	return updateRecord(s, ctx, p, orgID, id, systemStore, change)
}

// DeleteSystem removes system id with its documents
// (inventory.system.delete); the document files go once it committed.
func (s *Service) DeleteSystem(ctx context.Context, p *auth.Principal, orgID, id string) (System, error) {
	var docs []Document
	out, err := deleteRecord(s, ctx, p, orgID, id, systemStore, func(tx *db.Tx) error {
		var err error
		docs, err = ListDocuments(ctx, tx, orgID, id)
		return err
	})
	if err == nil && s.Documents != nil {
		for _, d := range docs {
			_ = s.Documents.DeleteBlob(context.WithoutCancel(ctx), orgID, d.ID)
		}
	}
	return out, err
}

// CreateContract stores a new maintenance contract
// (inventory.contract.create).
func (s *Service) CreateContract(ctx context.Context, p *auth.Principal, orgID string, in Contract) (Contract, error) {
	return createRecord(s, ctx, p, orgID, contractStore, in)
}

// UpdateContract changes contract id (inventory.contract.update).
func (s *Service) UpdateContract(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Contract]) (Contract, error) {
	return updateRecord(s, ctx, p, orgID, id, contractStore, change)
}

// DeleteContract removes contract id (inventory.contract.delete).
func (s *Service) DeleteContract(ctx context.Context, p *auth.Principal, orgID, id string) (Contract, error) {
	return deleteRecord(s, ctx, p, orgID, id, contractStore, nil)
}

// CreateAccount stores a new account of the account inventory
// (inventory.account.create).
func (s *Service) CreateAccount(ctx context.Context, p *auth.Principal, orgID string, in Account) (Account, error) {
	return createRecord(s, ctx, p, orgID, accountStore, in)
}

// UpdateAccount changes account id (inventory.account.update).
func (s *Service) UpdateAccount(ctx context.Context, p *auth.Principal, orgID, id string, change Change[Account]) (Account, error) {
	return updateRecord(s, ctx, p, orgID, id, accountStore, change)
}

// DeleteAccount removes account id (inventory.account.delete).
func (s *Service) DeleteAccount(ctx context.Context, p *auth.Principal, orgID, id string) (Account, error) {
	return deleteRecord(s, ctx, p, orgID, id, accountStore, nil)
}

// SetResponsibilities replaces the responsibility split of system id
// (inventory.responsibility.update on the system). It returns the split
// before and after.
func (s *Service) SetResponsibilities(ctx context.Context, p *auth.Principal, orgID, id string, rs []Responsibility) (before, after []Responsibility, err error) {
	err = s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if before, after, err = SetResponsibilities(ctx, tx, orgID, id, rs, s.Now()); err != nil {
			return nil, err
		}
		changes := map[string]any{}
		for i := range after {
			if i < len(before) && before[i] != after[i] {
				changes[string(after[i].Duty)] = []string{string(before[i].Holder), string(after[i].Holder)}
			}
		}
		return &audit.Event{Action: "inventory." + "responsibility.update", ObjectType: "system", ObjectID: id, Details: changes}, nil
	})
	return before, after, err
}

// UploadDocument stores a document (MDS/SDS…) of a system
// (inventory.document.upload). Without document storage it is an
// Unavailable error.
func (s *Service) UploadDocument(ctx context.Context, p *auth.Principal, orgID string, in DocumentInput, r io.Reader) (Document, error) {
	if s.Documents == nil {
		return Document{}, apperr.New(apperr.Unavailable, "inventory.error.documents_off")
	}
	var doc Document
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if doc, err = s.Documents.Upload(ctx, tx, orgID, p.UserID, in, r, s.Now()); err != nil {
			return nil, err
		}
		return &audit.Event{Action: "inventory." + "document.upload", ObjectType: "document", ObjectID: doc.ID,
			Details: map[string]any{"filename": doc.Filename, "system_id": doc.SystemID, "kind": string(doc.Kind), "size": doc.Size, "sha256": doc.SHA256}}, nil
	})
	if err != nil && doc.ID != "" {
		_ = s.Documents.DeleteBlob(context.WithoutCancel(ctx), orgID, doc.ID)
	}
	return doc, err
}

// DeleteDocument removes document id and its file
// (inventory.document.delete).
func (s *Service) DeleteDocument(ctx context.Context, p *auth.Principal, orgID, id string) (Document, error) {
	if s.Documents == nil {
		return Document{}, db.ErrNotFound
	}
	var doc Document
	err := s.write(ctx, p, orgID, func(tx *db.Tx) (*audit.Event, error) {
		var err error
		if doc, err = s.Documents.Delete(ctx, tx, orgID, id); err != nil {
			return nil, err
		}
		return &audit.Event{Action: "inventory." + "document.delete", ObjectType: "document", ObjectID: doc.ID,
			Details: map[string]any{"filename": doc.Filename, "system_id": doc.SystemID}}, nil
	})
	return doc, err
}

// Read runs read on the organisation's register in one transaction with
// the audit entry ev (a sensitive read such as record.read, or a data
// export), so that what was read and the record of reading it go
// together; details that read returns replace ev's. Only the
// organisation's own members (and the command line) read a register:
// anyone else gets db.ErrNotFound.
func (s *Service) Read(ctx context.Context, p *auth.Principal, orgID string, ev audit.Event, read func(q db.Querier) (map[string]any, error)) error {
	if p == nil || orgID == "" || (!p.System && (p.OrgID != orgID || p.IsOperator())) {
		return db.ErrNotFound
	}
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		details, err := read(tx)
		if err != nil {
			return err
		}
		if details != nil {
			ev.Details = details
		}
		ev.OrgID = orgID
		return s.Audit.Record(ctx, tx, p.Actor(), ev)
	})
	if errors.Is(err, ErrNothingRead) {
		return nil
	}
	return err
}

// ErrNothingRead is what a Read function returns when it found nothing worth
// recording (an empty list on a page that only shows it when there is
// some): Read then succeeds without an entry.
var ErrNothingRead = errors.New("inventory: nothing read")

// OpenDocument opens document id for reading and records the read
// (record.read on the document). The caller closes the reader.
func (s *Service) OpenDocument(ctx context.Context, p *auth.Principal, orgID, id string) (Document, io.ReadCloser, error) {
	if s.Documents == nil {
		return Document{}, nil, db.ErrNotFound
	}
	var doc Document
	var rc io.ReadCloser
	err := s.Read(ctx, p, orgID, audit.Event{Action: audit.ActionSensitiveRead, ObjectType: "document", ObjectID: id}, func(q db.Querier) (map[string]any, error) {
		var err error
		if doc, rc, err = s.Documents.Open(ctx, q, orgID, id); err != nil {
			return nil, err
		}
		return map[string]any{"filename": doc.Filename, "system_id": doc.SystemID}, nil
	})
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return doc, nil, err
	}
	return doc, rc, nil
}

// Export writes the organisation's register to w in format (xlsx, csv or
// json) and records the export (data.export).
func (s *Service) Export(ctx context.Context, p *auth.Principal, orgID, format string, w io.Writer) error {
	cw := &countWriter{w: w}
	return s.Read(ctx, p, orgID, audit.Event{Action: audit.ActionDataExport, ObjectType: "inventory", ObjectID: orgID}, func(q db.Querier) (map[string]any, error) {
		if err := export(ctx, q, s.labels, orgID, format, cw, DateOf(s.Now())); err != nil {
			return nil, err
		}
		return map[string]any{"format": format, "bytes": cw.n}, nil
	})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
