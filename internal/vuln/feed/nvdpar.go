package feed

import (
	"encoding/json"
	"errors"
	"io"
	"sync"
)

// eachNVDParallel walks NVD JSON as EachNVD does, for the import: the
// records are cut from the stream on the caller's goroutine; on workers
// goroutines they are decoded, validated, their rules put in stored form
// (nvdStored, which validates the CPE names) and turned into T by prep;
// fn gets them in file order on one goroutine. Records are decoded without their
// references, which the import does not keep. As with EachNVD, the first
// bad record in file order stops the walk and is the error returned.
func EachNVDParallel[T any](r io.Reader, workers int, prep func(*NVDCVE, StoredRules) (T, error), fn func(T) error) error {
	s := &parNVD[T]{prep: prep, fn: fn, jobs: make(chan *nvdBatch[T]), order: make(chan *nvdBatch[T], 4*workers), done: make(chan struct{})}
	for range workers {
		s.wg.Add(1)
		go s.work()
	}
	go s.consume()
	return walkNVD(r, s)
}

// nvdBatchSize is how many records a worker takes at a time.
const nvdBatchSize = 64

type nvdBatch[T any] struct {
	first   int // the file position (1-based) of raws[0]
	raws    [][]byte
	wrapped []bool
	out     []T
	err     error // the error of record first+len(out), if any
	done    chan struct{}
}

type parNVD[T any] struct {
	prep  func(*NVDCVE, StoredRules) (T, error)
	fn    func(T) error
	n     int
	cur   *nvdBatch[T]
	jobs  chan *nvdBatch[T]
	order chan *nvdBatch[T]
	wg    sync.WaitGroup
	done  chan struct{}

	mu       sync.Mutex
	err      error
	finished bool
}

// errNVDStopped stops the walk after a record failed; finish returns that
// record's error.
var errNVDStopped = errors.New("vuln: walk stopped")

func (s *parNVD[T]) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

func (s *parNVD[T]) record(dec *json.Decoder, wrapped bool) error {
	if s.failed() {
		return errNVDStopped
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Reject("vuln.feed.bad_record", "nvd", err)
	}
	s.n++
	if s.cur == nil {
		s.cur = &nvdBatch[T]{first: s.n, done: make(chan struct{})}
	}
	s.cur.raws = append(s.cur.raws, raw)
	s.cur.wrapped = append(s.cur.wrapped, wrapped)
	if len(s.cur.raws) == nvdBatchSize {
		s.send()
	}
	return nil
}

func (s *parNVD[T]) send() {
	b := s.cur
	s.cur = nil
	s.order <- b
	s.jobs <- b
}

func (s *parNVD[T]) single(c *NVDCVE) error {
	// A file that is one record: no workers needed.
	s.n++
	v, err := s.prepare(c, s.n)
	b := &nvdBatch[T]{first: s.n, err: err, done: make(chan struct{})}
	if err == nil {
		b.out = []T{v}
	}
	close(b.done)
	s.order <- b
	return nil
}

func (s *parNVD[T]) count() int { return s.n }

func (s *parNVD[T]) finish() error {
	s.mu.Lock()
	finished := s.finished
	s.finished = true
	s.mu.Unlock()
	if !finished {
		if s.cur != nil {
			s.send()
		}
		close(s.jobs)
		close(s.order)
		<-s.done
		s.wg.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *parNVD[T]) work() {
	defer s.wg.Done()
	for b := range s.jobs {
		if s.failed() {
			b.err = errNVDStopped
		} else {
			for i, raw := range b.raws {
				v, err := s.decode(raw, b.wrapped[i], b.first+i)
				if err != nil {
					b.err = err
					break
				}
				b.out = append(b.out, v)
			}
		}
		b.raws = nil
		close(b.done)
	}
}

func (s *parNVD[T]) decode(raw []byte, wrapped bool, n int) (T, error) {
	var zero T
	var c *NVDCVE
	if wrapped {
		var item struct {
			CVE *leanNVD `json:"cve"`
		}
		if err := json.Unmarshal(raw, &item); err != nil {
			return zero, Reject("vuln.feed.bad_record", "nvd", err)
		}
		if item.CVE == nil {
			return zero, Reject("vuln.feed.bad_record", "nvd", errMissing("cve"))
		}
		c = item.CVE.NVDCVE
		if c == nil {
			c = new(NVDCVE)
		}
	} else {
		c = new(NVDCVE)
		if err := json.Unmarshal(raw, &leanNVD{NVDCVE: c}); err != nil {
			return zero, Reject("vuln.feed.bad_record", "nvd", err)
		}
	}
	return s.prepare(c, n)
}

// prepare validates record n as validateNVD does (the CPE names through
// nvdStored) and prepares it.
func (s *parNVD[T]) prepare(c *NVDCVE, n int) (T, error) {
	var zero T
	if err := validateNVDID(c, n); err != nil {
		return zero, err
	}
	st, err := nvdStored(c)
	if err != nil {
		return zero, err
	}
	return s.prep(c, st)
}

// consume hands the prepared records to fn in file order and records the
// first error.
func (s *parNVD[T]) consume() {
	defer close(s.done)
	for b := range s.order {
		<-b.done
		if s.failed() {
			continue
		}
		var err error
		for _, v := range b.out {
			if err = s.fn(v); err != nil {
				break
			}
		}
		if err == nil {
			err = b.err
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
}

// leanNVD decodes a record without its references: their text is scanned
// but not kept.
type leanNVD struct {
	*NVDCVE
	References skipJSON `json:"references,omitempty"`
}

// skipJSON takes any JSON value and keeps nothing.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }
