package share

import (
	"bufio"
	"context"
	"encoding/binary"
	"hash/maphash"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
)

// What an import keeps in memory of a bundle. A bundle of a million
// objects must not need a million maps, strings and slices: every id is a
// number (a node), found through a map keyed by the id's type and UUID (20
// bytes, exact), every object a fixed-size record, every reference a node
// in one flat list. The objects themselves wait in a spool file, their ids
// and versions in a second one read in order; what a post needs of them
// (markings, indicators, names) is read back from the spool when its post
// is written. That is about 100 bytes per object, whatever the objects.

// idKey is a STIX id of the canonical form type--uuid (lower-case UUID):
// the index of its type and the UUID's 16 bytes.
type idKey struct {
	typ uint32
	u   uuid.UUID
}

// objRec is one version of an object of the bundle (24 bytes).
type objRec struct {
	off  int64  // where the object is in the spool
	size uint32 // its length there
	node uint32 // its id
	typ  uint32 // index of its type in objIndex.typeNames
	// refOff is where its references start in objIndex.refs; they end
	// where the next object's start.
	refOff uint32
}

const objBlock = 1 << 14

// objIndex is the compact index of a bundle's objects and references.
type objIndex struct {
	types     map[string]uint32
	typeNames []string
	// keys finds the node of a canonical id: an open-addressing table of
	// node numbers (plus one; 0 is free), compared through nodeKeys. It
	// takes about 28 bytes per id where a map takes 40 or more.
	keys     []uint32
	nkeys    int
	nodeKeys [][]idKey
	seed     maphash.Seed
	// other holds the ids not of the canonical form (they are rare).
	other map[string]uint32
	// cur is, for each node, the object standing for it (its newest
	// version), or -1 when no object of the bundle has its id (or the one
	// it had is stored already).
	cur []int32
	// order lists the nodes in the order their ids were first seen as
	// objects.
	order []uint32
	// objs holds every valid version, de-duplicated, in blocks so that
	// growing never copies them all.
	objs [][]objRec
	nobj int
	refs []uint32
}

func newObjIndex() *objIndex {
	return &objIndex{types: map[string]uint32{}, keys: make([]uint32, 1024), other: map[string]uint32{}, seed: maphash.MakeSeed()}
}

// typeIndex returns the index of a type name, adding it when create.
func (ix *objIndex) typeIndex(t string, create bool) (uint32, bool) {
	if i, ok := ix.types[t]; ok {
		return i, true
	}
	if !create {
		return 0, false
	}
	i := uint32(len(ix.typeNames))
	t = strings.Clone(t)
	ix.types[t] = i
	ix.typeNames = append(ix.typeNames, t)
	return i, true
}

// canonical splits a canonical id into its type and UUID.
func canonical(id string) (string, uuid.UUID, bool) {
	t, u, ok := strings.Cut(id, "--")
	if !ok || len(u) != 36 || !stixTypeRE.MatchString(t) {
		return "", uuid.UUID{}, false
	}
	x, err := uuid.Parse(u)
	if err != nil || x.String() != u {
		return "", uuid.UUID{}, false
	}
	return t, x, true
}

// node returns the node of an id; create adds one when the id is new.
func (ix *objIndex) node(id string, create bool) (uint32, bool) {
	if t, u, ok := canonical(id); ok {
		ti, ok := ix.typeIndex(t, create)
		if !ok {
			return 0, false
		}
		k := idKey{typ: ti, u: u}
		slot := ix.find(k)
		if n := ix.keys[slot]; n != 0 {
			return n - 1, true
		}
		if !create {
			return 0, false
		}
		n := ix.newNode()
		ix.nodeKeys[n/objBlock][n%objBlock] = k
		ix.keys[slot] = n + 1
		if ix.nkeys++; ix.nkeys*2 > len(ix.keys) {
			ix.growKeys()
		}
		return n, true
	}
	if n, ok := ix.other[id]; ok {
		return n, true
	}
	if !create {
		return 0, false
	}
	n := ix.newNode()
	ix.other[strings.Clone(id)] = n
	return n, true
}

func (ix *objIndex) newNode() uint32 {
	n := uint32(len(ix.cur))
	ix.cur = append(ix.cur, -1)
	if n%objBlock == 0 {
		ix.nodeKeys = append(ix.nodeKeys, make([]idKey, objBlock))
	}
	return n
}

// find returns the slot of k in keys: the one holding its node, or the
// free one where it goes.
func (ix *objIndex) find(k idKey) int {
	mask := len(ix.keys) - 1
	i := int(maphash.Comparable(ix.seed, k)) & mask
	for {
		n := ix.keys[i]
		if n == 0 || ix.nodeKeys[(n-1)/objBlock][(n-1)%objBlock] == k {
			return i
		}
		i = (i + 1) & mask
	}
}

// growKeys doubles the table, keeping it at most half full.
func (ix *objIndex) growKeys() {
	old := ix.keys
	ix.keys = make([]uint32, 2*len(old))
	for _, n := range old {
		if n != 0 {
			ix.keys[ix.find(ix.nodeKeys[(n-1)/objBlock][(n-1)%objBlock])] = n
		}
	}
}

func (ix *objIndex) obj(i int32) *objRec {
	return &ix.objs[i/objBlock][i%objBlock]
}

func (ix *objIndex) addObj(r objRec) int32 {
	if ix.nobj%objBlock == 0 {
		ix.objs = append(ix.objs, make([]objRec, 0, objBlock))
	}
	b := &ix.objs[len(ix.objs)-1]
	*b = append(*b, r)
	ix.nobj++
	return int32(ix.nobj - 1)
}

// refsOf lists the nodes the object i points at.
func (ix *objIndex) refsOf(i int32) []uint32 {
	end := uint32(len(ix.refs))
	if int(i)+1 < ix.nobj {
		end = ix.obj(i + 1).refOff
	}
	return ix.refs[ix.obj(i).refOff:end]
}

// present is the object standing for node n, if any.
func (ix *objIndex) present(n uint32) (*objRec, bool) {
	if i := ix.cur[n]; i >= 0 {
		return ix.obj(i), true
	}
	return nil, false
}

func (ix *objIndex) isType(r *objRec, names ...string) bool {
	t := ix.typeNames[r.typ]
	for _, n := range names {
		if t == n {
			return true
		}
	}
	return false
}

// connector reports whether an object joins the group of what it points at.
func (ix *objIndex) connector(r *objRec) bool {
	return ix.isType(r, "relationship", "sighting", "note", "opinion")
}

// group splits the objects into posts: one per report or grouping (in the
// order they come) with everything it points at and everything that
// points at it through relationships, sightings, notes and opinions,
// transitively, unless an earlier report took it; then one more for the
// rest (marking definitions apart). It is a breadth-first walk over an
// index of who points at what (arrays of nodes): linear in objects and
// references.
func (ix *objIndex) group(ctx context.Context) ([][]uint32, error) {
	n := len(ix.cur)
	// pointedBy[start[x]:start[x+1]] are the connectors pointing at x, in
	// the order they come.
	start := make([]uint32, n+1)
	for _, id := range ix.order {
		if o, ok := ix.present(id); ok && ix.connector(o) {
			for _, r := range ix.refsOf(ix.cur[id]) {
				start[r+1]++
			}
		}
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	pointedBy := make([]uint32, start[n])
	fill := make([]uint32, n)
	for _, id := range ix.order {
		if o, ok := ix.present(id); ok && ix.connector(o) {
			for _, r := range ix.refsOf(ix.cur[id]) {
				pointedBy[start[r]+fill[r]] = id
				fill[r]++
			}
		}
	}
	fill = nil
	assigned := make([]uint64, (n+63)/64)
	isAssigned := func(x uint32) bool { return assigned[x/64]&(1<<(x%64)) != 0 }
	assign := func(x uint32) { assigned[x/64] |= 1 << (x % 64) }
	var groups [][]uint32
	for k, id := range ix.order {
		if k%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		root, ok := ix.present(id)
		if !ok || !ix.isType(root, "report", "grouping") || isAssigned(id) {
			continue
		}
		assign(id)
		list := []uint32{id}
		for i := 0; i < len(list); i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			x := list[i]
			for _, r := range ix.refsOf(ix.cur[x]) {
				if _, ok := ix.present(r); ok && !isAssigned(r) {
					assign(r)
					list = append(list, r)
				}
			}
			for _, c := range pointedBy[start[x]:start[x+1]] {
				if !isAssigned(c) {
					assign(c)
					list = append(list, c)
				}
			}
		}
		groups = append(groups, list)
	}
	var rest []uint32
	for _, id := range ix.order {
		if o, ok := ix.present(id); ok && !isAssigned(id) && !ix.isType(o, "marking-definition") {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		groups = append(groups, rest)
	}
	return groups, nil
}

// metaSpool keeps the id and version of every object, in the order of
// objIndex.objs, for the pass that finds the objects stored already.
type metaSpool struct {
	f *os.File
	w *bufio.Writer
	n [binary.MaxVarintLen64]byte
}

func newMetaSpool() (*metaSpool, error) {
	f, err := os.CreateTemp("", "medisac-import-ids-*")
	if err != nil {
		return nil, err
	}
	return &metaSpool{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

func (m *metaSpool) put(s string) error {
	k := binary.PutUvarint(m.n[:], uint64(len(s)))
	if _, err := m.w.Write(m.n[:k]); err != nil {
		return err
	}
	_, err := m.w.WriteString(s)
	return err
}

func (m *metaSpool) add(id, version string) error {
	if err := m.put(id); err != nil {
		return err
	}
	return m.put(version)
}

// reader returns a reader of the records from the start.
func (m *metaSpool) reader() (*metaReader, error) {
	if err := m.w.Flush(); err != nil {
		return nil, err
	}
	return &metaReader{r: bufio.NewReaderSize(io.NewSectionReader(m.f, 0, 1<<62), 1<<16)}, nil
}

func (m *metaSpool) close() {
	if m != nil && m.f != nil {
		name := m.f.Name()
		m.f.Close()
		os.Remove(name)
	}
}

type metaReader struct{ r *bufio.Reader }

func (m *metaReader) get() (string, error) {
	n, err := binary.ReadUvarint(m.r)
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(m.r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func (m *metaReader) next() (id, version string, err error) {
	if id, err = m.get(); err != nil {
		return "", "", err
	}
	version, err = m.get()
	return id, version, err
}
