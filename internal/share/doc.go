// Package share is the sharing hub of the ISAC: advisories (注意喚起),
// incident reports, vulnerability notes, indicator sets and questions (相談)
// posted under a mandatory TLP 2.0 label, with the label's distribution
// enforced by the store rather than by the reader's good will.
//
// Every read (list, get, search, the Atom feed, TAXII, STIX and MISP export,
// notification fan-out) filters posts through one SQL predicate built by
// visible: TLP:CLEAR is public, TLP:GREEN reaches every member
// organisation, TLP:AMBER the author's organisation and the named recipient
// organisations and sharing groups, TLP:AMBER+STRICT the author's
// organisation and named organisations only (no groups, no relaying), and
// TLP:RED the author and the named people only. A post the reader may not
// see answers exactly like a missing one (db.ErrNotFound).
//
// Re-sharing never widens a label: only the author (or an admin of the
// author's organisation) may change the label or add recipients, except
// that a recipient of a TLP:AMBER post may pass it on to its own clients
// (the members of a "customers" sharing group it owns), as TLP 2.0 allows.
//
// Anonymous incident reports hide the reporting organisation from everyone
// except ISAC operators and the reporting organisation itself; ISAC
// operators always receive them so that they can follow up.
//
// Indicators are normalised (refanged, lower-cased, IDN to punycode,
// canonical URLs) and correlated at write time through share_ioc_values, a
// table of normalised values with a per-value post count: finding the other
// posts that carry a value is one indexed lookup, and nothing is ever
// re-correlated in bulk.
package share
