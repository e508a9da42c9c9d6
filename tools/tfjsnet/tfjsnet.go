// Package tfjsnet computes face descriptors with dlib's face-recognition ResNet in plain Go,
// straight from the network's TensorFlow.js export (face-api.js's face_recognition_model).
//
// It exists to prove tools/convertmodel faithful: the converted dlib model, run by dlib, must
// give the descriptors this package gives from the original tensors. It replicates dlib's
// semantics exactly (input scaling, paddings, zero-padded residual sums) and shares no code
// with the converter. It is a reference, not a fast path: about half a second per chip.
package tfjsnet

import (
	"errors"
	"fmt"
	"image"
	"slices"

	"github.com/facematch/facematch/internal/tfjs"
)

// ChipSize is the width and height, in pixels, of the aligned face chips the network reads.
const ChipSize = 150

// DescriptorSize is the number of elements of a face descriptor.
const DescriptorSize = 128

// Per-channel means dlib's input_rgb_image_sized<150> subtracts before dividing by 256.
const (
	meanRed   float32 = 122.782
	meanGreen float32 = 117.001
	meanBlue  float32 = 104.298
)

// Net is dlib's face-recognition ResNet with weights read from a TensorFlow.js export. It
// is read-only once loaded and safe for concurrent use.
type Net struct {
	first  convUnit
	blocks []residualBlock
	fc     []float32 // [256, 128], input-major as in both tfjs and dlib
}

// convUnit is a convolution with bias followed by dlib's per-channel affine layer.
type convUnit struct {
	in, out, kernel, stride int
	filters                 []float32 // tfjs layout [kernel, kernel, in, out]
	bias, gamma, beta       []float32
}

// residualBlock is dlib's ares (identity shortcut) or ares_down (stride-2 first convolution
// and a 2x2 average-pooled shortcut).
type residualBlock struct {
	conv1, conv2 convUnit
	down         bool
}

// Load reads a TensorFlow.js weights manifest and the weights file it describes.
func Load(manifestPath, weightsPath string) (*Net, error) {
	tensors, err := tfjs.ReadTensors(manifestPath, weightsPath)
	if err != nil {
		return nil, err
	}
	used := 0
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := tensors[name]
		if !ok {
			return nil, fmt.Errorf("tensor %q missing from %s", name, manifestPath)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
		}
		used++
		return t.Data, nil
	}
	unit := func(prefix string, in, out, kernel, stride int) (convUnit, error) {
		u := convUnit{in: in, out: out, kernel: kernel, stride: stride}
		var err error
		if u.filters, err = get(prefix+"/conv/filters", kernel, kernel, in, out); err != nil {
			return u, err
		}
		if u.bias, err = get(prefix+"/conv/bias", out); err != nil {
			return u, err
		}
		if u.gamma, err = get(prefix+"/scale/weights", out); err != nil {
			return u, err
		}
		u.beta, err = get(prefix+"/scale/biases", out)
		return u, err
	}

	n := &Net{}
	if n.first, err = unit("conv32_down", 3, 32, 7, 2); err != nil {
		return nil, err
	}
	stages := []struct {
		name    string
		in, out int
		stride  int
	}{
		{"conv32_1", 32, 32, 1}, {"conv32_2", 32, 32, 1}, {"conv32_3", 32, 32, 1},
		{"conv64_down", 32, 64, 2}, {"conv64_1", 64, 64, 1}, {"conv64_2", 64, 64, 1}, {"conv64_3", 64, 64, 1},
		{"conv128_down", 64, 128, 2}, {"conv128_1", 128, 128, 1}, {"conv128_2", 128, 128, 1},
		{"conv256_down", 128, 256, 2}, {"conv256_1", 256, 256, 1}, {"conv256_2", 256, 256, 1},
		{"conv256_down_out", 256, 256, 2},
	}
	for _, s := range stages {
		b := residualBlock{down: s.stride == 2}
		if b.conv1, err = unit(s.name+"/conv1", s.in, s.out, 3, s.stride); err != nil {
			return nil, err
		}
		if b.conv2, err = unit(s.name+"/conv2", s.out, s.out, 3, 1); err != nil {
			return nil, err
		}
		n.blocks = append(n.blocks, b)
	}
	if n.fc, err = get("fc", 256, DescriptorSize); err != nil {
		return nil, err
	}
	if used != len(tensors) {
		return nil, fmt.Errorf("%s lists %d tensors, the network uses %d", manifestPath, len(tensors), used)
	}
	return n, nil
}

// RGBBytes returns the pixels of img as row-major R, G, B bytes, the form dlib's rgb_pixel
// matrices and bin/dlibraw's chips mode take.
func RGBBytes(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return out
}

// Descriptor returns the 128-element descriptor of an aligned 150x150 face chip.
func (n *Net) Descriptor(chip image.Image) ([DescriptorSize]float32, error) {
	if b := chip.Bounds(); b.Dx() != ChipSize || b.Dy() != ChipSize {
		return [DescriptorSize]float32{}, fmt.Errorf("chip is %dx%d, want %dx%d", b.Dx(), b.Dy(), ChipSize, ChipSize)
	}
	return n.DescriptorFromRGB(RGBBytes(chip))
}

// DescriptorFromRGB returns the descriptor of a 150x150 chip given as row-major R, G, B bytes.
func (n *Net) DescriptorFromRGB(pixels []byte) ([DescriptorSize]float32, error) {
	var descriptor [DescriptorSize]float32
	if len(pixels) != ChipSize*ChipSize*3 {
		return descriptor, errors.New("chip must be 150*150*3 bytes")
	}

	x := inputTensor(pixels)
	x = n.first.apply(x)
	relu(x)
	x = maxPool3x3Stride2(x)
	for _, b := range n.blocks {
		x = b.apply(x)
	}
	pooled := averageEverything(x)
	for j := range descriptor {
		var sum float32
		for i, v := range pooled {
			sum += v * n.fc[i*DescriptorSize+j]
		}
		descriptor[j] = sum
	}
	return descriptor, nil
}

// activation is a C x H x W tensor of one sample, as dlib lays it out.
type activation struct {
	k, h, w int
	data    []float32
}

func newActivation(k, h, w int) activation {
	return activation{k: k, h: h, w: w, data: make([]float32, k*h*w)}
}

// inputTensor does what input_rgb_image_sized<150>::to_tensor does.
func inputTensor(pixels []byte) activation {
	a := newActivation(3, ChipSize, ChipSize)
	plane := ChipSize * ChipSize
	for i := 0; i < plane; i++ {
		a.data[i] = (float32(pixels[3*i]) - meanRed) / 256
		a.data[plane+i] = (float32(pixels[3*i+1]) - meanGreen) / 256
		a.data[2*plane+i] = (float32(pixels[3*i+2]) - meanBlue) / 256
	}
	return a
}

// apply runs the convolution (dlib pads by kernel/2 at stride 1 and not at all at stride 2),
// adds the bias, then applies the affine layer.
func (u convUnit) apply(x activation) activation {
	pad := u.kernel / 2
	if u.stride != 1 {
		pad = 0
	}
	oh := 1 + (x.h+2*pad-u.kernel)/u.stride
	ow := 1 + (x.w+2*pad-u.kernel)/u.stride
	positions := oh * ow

	// im2col: one row per filter tap (y, x, in), in tfjs's filter order.
	rows := u.kernel * u.kernel * u.in
	cols := make([]float32, rows*positions)
	for ky := 0; ky < u.kernel; ky++ {
		for kx := 0; kx < u.kernel; kx++ {
			for c := 0; c < u.in; c++ {
				row := cols[((ky*u.kernel+kx)*u.in+c)*positions:][:positions]
				src := x.data[c*x.h*x.w:][:x.h*x.w]
				for oy := 0; oy < oh; oy++ {
					sy := oy*u.stride + ky - pad
					dst := row[oy*ow:][:ow]
					if sy < 0 || sy >= x.h {
						continue
					}
					line := src[sy*x.w:][:x.w]
					for ox := range dst {
						sx := ox*u.stride + kx - pad
						if sx >= 0 && sx < x.w {
							dst[ox] = line[sx]
						}
					}
				}
			}
		}
	}

	out := newActivation(u.out, oh, ow)
	for r := 0; r < rows; r++ {
		col := cols[r*positions:][:positions]
		weights := u.filters[r*u.out:][:u.out]
		for o, w := range weights {
			if w == 0 {
				continue
			}
			dst := out.data[o*positions:][:positions]
			for p, v := range col {
				dst[p] += w * v
			}
		}
	}
	for o := 0; o < u.out; o++ {
		dst := out.data[o*positions:][:positions]
		bias, gamma, beta := u.bias[o], u.gamma[o], u.beta[o]
		for p := range dst {
			v := dst[p] + bias
			dst[p] = v*gamma + beta
		}
	}
	return out
}

// apply runs one residual block: relu(shortcut + affine(conv2(relu(affine(conv1(x)))))).
func (b residualBlock) apply(x activation) activation {
	y := b.conv1.apply(x)
	relu(y)
	y = b.conv2.apply(y)
	shortcut := x
	if b.down {
		shortcut = averagePool2x2Stride2(x)
	}
	sum := addZeroPadded(y, shortcut)
	relu(sum)
	return sum
}

// addZeroPadded is dlib's add_prev: the output takes the larger size in every dimension and
// each input counts as zero where it is smaller (more channels, or a 3x3 map added to 4x4).
func addZeroPadded(a, b activation) activation {
	out := newActivation(max(a.k, b.k), max(a.h, b.h), max(a.w, b.w))
	at := func(t activation, k, y, x int) float32 {
		if k < t.k && y < t.h && x < t.w {
			return t.data[(k*t.h+y)*t.w+x]
		}
		return 0
	}
	i := 0
	for k := 0; k < out.k; k++ {
		for y := 0; y < out.h; y++ {
			for x := 0; x < out.w; x++ {
				out.data[i] = at(a, k, y, x) + at(b, k, y, x)
				i++
			}
		}
	}
	return out
}

func relu(a activation) {
	for i, v := range a.data {
		if v < 0 {
			a.data[i] = 0
		}
	}
}

// maxPool3x3Stride2 is dlib's max_pool<3,3,2,2> (no padding).
func maxPool3x3Stride2(x activation) activation {
	oh, ow := 1+(x.h-3)/2, 1+(x.w-3)/2
	out := newActivation(x.k, oh, ow)
	for k := 0; k < x.k; k++ {
		src := x.data[k*x.h*x.w:][:x.h*x.w]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				m := src[(2*oy)*x.w+2*ox]
				for dy := 0; dy < 3; dy++ {
					for dx := 0; dx < 3; dx++ {
						m = max(m, src[(2*oy+dy)*x.w+2*ox+dx])
					}
				}
				out.data[(k*oh+oy)*ow+ox] = m
			}
		}
	}
	return out
}

// averagePool2x2Stride2 is dlib's avg_pool<2,2,2,2> (no padding; an odd last row or column
// is dropped).
func averagePool2x2Stride2(x activation) activation {
	oh, ow := 1+(x.h-2)/2, 1+(x.w-2)/2
	out := newActivation(x.k, oh, ow)
	for k := 0; k < x.k; k++ {
		src := x.data[k*x.h*x.w:][:x.h*x.w]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				top := src[(2*oy)*x.w+2*ox:]
				bottom := src[(2*oy+1)*x.w+2*ox:]
				out.data[(k*oh+oy)*ow+ox] = (top[0] + top[1] + bottom[0] + bottom[1]) / 4
			}
		}
	}
	return out
}

// averageEverything is dlib's avg_pool_everything: the mean of each channel.
func averageEverything(x activation) []float32 {
	out := make([]float32, x.k)
	plane := x.h * x.w
	for k := range out {
		var sum float32
		for _, v := range x.data[k*plane:][:plane] {
			sum += v
		}
		out[k] = sum / float32(plane)
	}
	return out
}
