package agegender

import (
	"math/rand/v2"
	"testing"
)

// The AVX2 kernels and the portable loops compute the same products, on shapes with rows the
// vector kernel leaves to the loops, and with and without the fused ReLU.
func TestVectorKernelsMatchPortableLoops(t *testing.T) {
	if !vector {
		t.Skip("this CPU has no AVX2 and FMA: only the portable loops run")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	for _, s := range []struct{ p, k, o int }{{49, 256, 512}, {196, 128, 128}, {7, 27, 32}, {4, 1, 16}} {
		a, b, bias := fill(s.p*s.k), fill(s.k*s.o), fill(s.o)
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, s.p*s.o), make([]float32, s.p*s.o)
			gemm(s.p, s.k, s.o, a, b, bias, got, relu)
			gemmGo(0, s.p, s.k, s.o, a, b, bias, want, relu)
			for i := range got {
				if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
					t.Fatalf("%+v relu=%v: element %d is %g, portable %g", s, relu, i, got[i], want[i])
				}
			}
		}
	}
	for _, ch := range []int{32, 128, 256} {
		src, w := fill(5*ch), fill(ch)
		got, want := fill(5*ch), make([]float32, 5*ch)
		copy(want, got)
		dwRow(got, src, w, 5, ch)
		dwRowGo(want, src, w, 5, ch)
		for i := range got {
			if d := got[i] - want[i]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("depthwise ch=%d: element %d is %g, portable %g", ch, i, got[i], want[i])
			}
		}
	}
}
