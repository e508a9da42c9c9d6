package matcher

// #cgo LDFLAGS: -lopenblas
// extern void openblas_set_num_threads(int);
import "C"

import "sync"

var singleThreadBLAS sync.Once

// pinBLAS makes OpenBLAS compute on the calling thread only. Parallelism comes from the pool of
// recognizers, one per core; BLAS threads of its own would fight them for the same cores.
func pinBLAS() {
	singleThreadBLAS.Do(func() { C.openblas_set_num_threads(1) })
}
