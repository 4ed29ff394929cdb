package testkit

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// PeakHeapMiB samples the heap every interval while fn runs and returns
// the highest HeapInuse seen, in MiB. With MEDISAC_BENCH_HEAP_PROFILE set
// it writes a heap profile to that file at each new peak (10 % above the
// last one written).
func PeakHeapMiB(every time.Duration, fn func()) float64 {
	var peak, written uint64
	profile := os.Getenv("MEDISAC_BENCH_HEAP_PROFILE")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			if profile != "" && peak > written+written/10 {
				written = peak
				if f, err := os.Create(profile); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait() // the sampler has stopped: peak is read after it
	return float64(peak) / (1 << 20)
}
