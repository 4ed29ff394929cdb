package testkit

import (
	"bytes"
	"compress/gzip"
)

// Gzip returns b compressed with gzip, as a feed or an upload would come.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
