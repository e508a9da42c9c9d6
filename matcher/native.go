package matcher

// #cgo LDFLAGS: -lopenblas
// #include <malloc.h>
// extern void openblas_set_num_threads(int);
import "C"

import "sync"

var tuneOnce sync.Once

// tuneNative sets up the C side once per process, before any recognizer is loaded:
//   - OpenBLAS computes on the calling thread only. Parallelism comes from the pool of
//     recognizers, one per core; BLAS threads of their own would fight them for the cores.
//   - glibc keeps at most two malloc arenas. Each thread that runs dlib otherwise gets an arena
//     of its own that keeps the large, short-lived buffers of detection after they are freed;
//     measured with two workers, the peak resident memory drops by about 10 MB at the
//     same throughput.
func tuneNative() {
	tuneOnce.Do(func() {
		C.openblas_set_num_threads(1)
		C.mallopt(C.M_ARENA_MAX, 2)
	})
}
