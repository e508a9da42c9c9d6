//go:build !amd64

package agegender

// gemm computes c = a x b + bias, a being p x k, b k x o and c p x o, row-major; with relu,
// max(0, c).
func gemm(p, k, o int, a, b, bias, c []float32, relu bool) { gemmGo(0, p, k, o, a, b, bias, c, relu) }

// dwRow adds src * w to dst, pixel by pixel: dst[p*ch+i] += src[p*ch+i] * w[i].
func dwRow(dst, src, w []float32, pixels, ch int) { dwRowGo(dst, src, w, pixels, ch) }
