package agegender

// gemmGo computes rows [from, to) of c = a x b + bias, where a is p x k, b is k x o and c is
// p x o, all row-major, then max(0, c) with relu. It is the portable path and the one for rows
// the vector kernel leaves.
func gemmGo(from, to, k, o int, a, b, bias, c []float32, relu bool) {
	for i := from; i < to; i++ {
		row := c[i*o : (i+1)*o]
		copy(row, bias[:o])
		ai := a[i*k : (i+1)*k]
		for kk, v := range ai {
			if v == 0 {
				continue
			}
			bk := b[kk*o : (kk+1)*o]
			for j, w := range bk {
				row[j] += v * w
			}
		}
		if relu {
			for j, v := range row {
				if v < 0 {
					row[j] = 0
				}
			}
		}
	}
}

// dwRowGo adds src * w to dst, pixel by pixel: dst[p*ch+i] += src[p*ch+i] * w[i].
func dwRowGo(dst, src, w []float32, pixels, ch int) {
	w = w[:ch]
	for p := 0; p < pixels; p++ {
		d := dst[p*ch : (p+1)*ch]
		s := src[p*ch : (p+1)*ch]
		for i, v := range s {
			d[i] += v * w[i]
		}
	}
}
