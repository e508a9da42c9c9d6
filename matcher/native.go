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
//   - A block of 128 KiB or more is mapped on its own and unmapped when freed, and free memory
//     at the top of a heap is given back past 128 KiB. glibc otherwise raises its mapping
//     threshold to the largest block freed (up to 32 MiB), after which dlib's detection buffers
//     of several MiB each stay resident in the arenas between calls; measured in
//     docs/scaling.md, the peak resident memory of two workers under load drops by about
//     100 MB.
func tuneNative() {
	tuneOnce.Do(func() {
		C.openblas_set_num_threads(1)
		C.mallopt(C.M_ARENA_MAX, 2)
		C.mallopt(C.M_MMAP_THRESHOLD, nativeTrimBytes)
		C.mallopt(C.M_TRIM_THRESHOLD, nativeTrimBytes)
	})
}

// nativeTrimBytes is the size from which glibc maps blocks on their own and trims free memory.
const nativeTrimBytes = 128 << 10
