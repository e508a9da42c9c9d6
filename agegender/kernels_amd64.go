package agegender

import "golang.org/x/sys/cpu"

// vector is true when the CPU runs the AVX2 and FMA kernels of kernels_amd64.s.
var vector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// gemm4x16 writes the 4 x 16 block of c = a x b + bias whose top-left element is at c, for a
// block of a with k columns and row stride lda, b with row stride ldb and c with row stride
// ldc (strides in elements); with relu, negative results are written as zero.
//
//go:noescape
func gemm4x16(k int, a *float32, lda int, b *float32, ldb int, bias *float32, c *float32, ldc int, relu bool)

// dwRowAVX is dwRowGo for ch a multiple of 8.
//
//go:noescape
func dwRowAVX(dst, src, w *float32, pixels, ch int)

// gemm computes c = a x b + bias, a being p x k, b k x o and c p x o, row-major; with relu,
// max(0, c).
func gemm(p, k, o int, a, b, bias, c []float32, relu bool) {
	_, _, _, _ = a[p*k-1], b[k*o-1], bias[o-1], c[p*o-1]
	if !vector || o%16 != 0 {
		gemmGo(0, p, k, o, a, b, bias, c, relu)
		return
	}
	rows := p &^ 3
	for j := 0; j < o; j += 16 {
		for i := 0; i < rows; i += 4 {
			gemm4x16(k, &a[i*k], k, &b[j], o, &bias[j], &c[i*o+j], o, relu)
		}
	}
	gemmGo(rows, p, k, o, a, b, bias, c, relu)
}

// dwRow adds src * w to dst, pixel by pixel: dst[p*ch+i] += src[p*ch+i] * w[i].
func dwRow(dst, src, w []float32, pixels, ch int) {
	if pixels == 0 {
		return
	}
	_, _, _ = dst[pixels*ch-1], src[pixels*ch-1], w[ch-1]
	if !vector || ch%8 != 0 {
		dwRowGo(dst, src, w, pixels, ch)
		return
	}
	dwRowAVX(&dst[0], &src[0], &w[0], pixels, ch)
}
