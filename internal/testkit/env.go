package testkit

import (
	"os"
	"strconv"
)

// BenchSize is the size a benchmark works at: the positive whole number
// in MEDISAC_BENCH_<name> when there is one (for full-size or quick
// runs), else def.
func BenchSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv("MEDISAC_BENCH_" + name)); err == nil && n > 0 {
		return n
	}
	return def
}
