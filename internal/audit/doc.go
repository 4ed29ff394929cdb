// Package audit is medisac's append-only, hash-chained audit log: every
// sign-in (success and failure), every change and every read of a sensitive
// record is written as one Entry, and the whole log can be checked for
// changes made behind the program's back.
//
// # Chain
//
// Entries are numbered 1, 2, 3… without gaps (Seq). Each entry stores the
// hash of the entry before it (PrevHash; 64 zeros for entry 1) and its own
// Hash, the lower-case hex SHA-256 of
//
//	"medisac.audit.v1" 0x00
//	then, for each field in this order, a 4-byte big-endian length followed
//	by the field's UTF-8 bytes:
//	seq (decimal), at, actor_id, actor, org_id, action, object_type,
//	object_id, outcome, ip, user_agent, details, prev_hash
//
// where at is the entry time in UTC at microsecond precision formatted as
// 2006-01-02T15:04:05.000000Z (the value stored in the database), and
// details is the stored JSON text (encoding/json output of the Details map,
// keys sorted). Length prefixes make the encoding unambiguous.
//
// Appends are serialised: on PostgreSQL by the transaction-scoped advisory
// lock "medisac:audit", on SQLite by its single write lock. Several server
// processes sharing one PostgreSQL database therefore extend one chain.
//
// # Checkpoints
//
// A Checkpoint is an Ed25519 signature over the latest (seq, hash), stored
// in audit_checkpoints. Checkpoint refuses to sign when the entries added
// since the previous checkpoint do not link up, so it never blesses a
// broken chain.
//
// # What Verify detects, and what it cannot
//
// Verify walks the chain in order and reports the first problem: an entry
// whose content no longer matches its hash, a broken link, a missing or
// extra sequence number, a checkpoint with a bad signature or signed by an
// unknown key, an entry that no longer matches the checkpoint covering it,
// and entries removed from the end below the latest checkpoint.
//
// Someone who can write to the database can rewrite entries and recompute
// every hash after them; only a signed checkpoint exposes that. Entries
// after the latest checkpoint are therefore protected by the hash chain
// alone: changing, adding or removing them at the tail, with hashes
// recomputed, is not detectable. Run Checkpoint often (a background job)
// to keep that window short. Deleting checkpoints themselves together with
// the entries they cover is likewise undetectable from inside the
// database; keep the latest checkpoint (Report.LatestCheckpoint) somewhere
// else too when that matters.
//
// Checkpoints are verified with the signer's own public key and any keys
// added with Signer.Trust. All nodes sharing one database must use the same
// key file (MEDISAC_AUDIT_KEY_FILE), or trust each other's public keys.
package audit
