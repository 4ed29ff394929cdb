package vuln

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// staleSpool is the age after which a spool file under TempDir is taken
// for one left by a killed import and removed: an import validates into
// its spool and then writes for at most a few minutes. (A spool still
// being read stays readable once removed.)
const staleSpool = time.Hour

// removeStaleSpools removes the spool files of imports whose process died.
func (w *Watch) removeStaleSpools() {
	if w.TempDir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(w.TempDir, "medisac-import-*.tmp"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && time.Since(st.ModTime()) > staleSpool {
			if err := os.Remove(f); err == nil {
				w.Logger.Info("vuln import: removed the spool file of a stopped import", "file", f)
			}
		}
	}
}

// spool keeps prepared rows in a temporary file between the validating
// and the writing pass of an import.
type spool struct {
	f   *os.File
	bw  *bufio.Writer
	br  *bufio.Reader
	buf []byte
}

func (w *Watch) newSpool() (*spool, error) {
	if w.TempDir != "" {
		if err := os.MkdirAll(w.TempDir, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(w.TempDir, "medisac-import-*.tmp")
	if err != nil {
		return nil, err
	}
	return &spool{f: f, bw: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

func (s *spool) rewind() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.br = bufio.NewReaderSize(s.f, 1<<20)
	return nil
}

func (s *spool) writeNVD(r *nvdRow) error {
	s.buf = r.encode(s.buf[:0])
	return s.write(s.buf)
}

// write appends one encoded row.
func (s *spool) write(row []byte) error {
	var n [binary.MaxVarintLen64]byte
	if _, err := s.bw.Write(n[:binary.PutUvarint(n[:], uint64(len(row)))]); err != nil {
		return err
	}
	_, err := s.bw.Write(row)
	return err
}

// encode appends the row's encoding to b.
func (r *nvdRow) encode(b []byte) []byte {
	e := rowEnc{b: b}
	e.str(r.id)
	e.str(r.desc)
	e.str(r.status)
	e.bool(r.withdrawn)
	e.time(r.published)
	e.time(r.modified)
	e.float(r.score)
	e.str(r.cvssVersion)
	e.str(r.severity)
	e.str(r.vector)
	e.str(r.cwes)
	e.str(string(r.rules.Data))
	e.strs(r.rules.Keys)
	e.bool(r.rules.Wild)
	e.strs(r.rules.Fixed)
	e.bool(r.rules.Pending)
	return e.b
}

// readNVD reads the next row into r and reports false at the end.
func (s *spool) readNVD(r *nvdRow) (bool, error) {
	n, err := binary.ReadUvarint(s.br)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.br, s.buf); err != nil {
		return false, err
	}
	d := rowDec{b: s.buf}
	r.id = d.str()
	r.desc = d.str()
	r.status = d.str()
	r.withdrawn = d.bool()
	r.published = d.time()
	r.modified = d.time()
	r.score = d.float()
	r.cvssVersion = d.str()
	r.severity = d.str()
	r.vector = d.str()
	r.cwes = d.str()
	r.rules.Data = []byte(d.str())
	r.rules.Keys = d.strs(r.rules.Keys[:0])
	r.rules.Wild = d.bool()
	r.rules.Fixed = d.strs(r.rules.Fixed[:0])
	r.rules.Pending = d.bool()
	if d.bad || len(d.b) != 0 {
		return false, errors.New("vuln: import spool is corrupt")
	}
	return true, nil
}

// rowEnc appends values to a spooled row.
type rowEnc struct{ b []byte }

func (e *rowEnc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *rowEnc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *rowEnc) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *rowEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *rowEnc) float(v float64) { e.uint(math.Float64bits(v)) }

func (e *rowEnc) time(t time.Time) {
	if t.IsZero() {
		e.bool(false)
		return
	}
	e.bool(true)
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.uint(uint64(t.Nanosecond()))
}

// rowDec reads the values of a spooled row; bad says it was cut short.
type rowDec struct {
	b   []byte
	bad bool
}

func (d *rowDec) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *rowDec) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *rowDec) strs(into []string) []string {
	for n := d.uint(); n > 0 && !d.bad; n-- {
		into = append(into, d.str())
	}
	return into
}

func (d *rowDec) bool() bool {
	if len(d.b) == 0 {
		d.bad = true
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *rowDec) float() float64 { return math.Float64frombits(d.uint()) }

func (d *rowDec) time() time.Time {
	if !d.bool() {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(sec, int64(d.uint())).UTC()
}
