package main

import (
	"fmt"
	"slices"
	"sort"
)

// convUnit is one convolution of dlib's face-recognition ResNet followed by its per-channel
// affine layer: the tensors <prefix>/conv/{filters,bias} and <prefix>/scale/{weights,biases}.
type convUnit struct {
	prefix  string
	in, out int
	kernel  int
	stride  int
}

// recognitionConvUnits lists the network's convolutions from the input to the output. The
// strided ones are the first convolution and conv1 of every *_down block, conv256_down_out
// included; dlib pads stride-1 convolutions by kernel/2 and stride-2 ones not at all.
func recognitionConvUnits() []convUnit {
	units := []convUnit{{prefix: "conv32_down", in: 3, out: 32, kernel: 7, stride: 2}}
	residual := func(name string, in, out, stride int) {
		units = append(units,
			convUnit{prefix: name + "/conv1", in: in, out: out, kernel: 3, stride: stride},
			convUnit{prefix: name + "/conv2", in: out, out: out, kernel: 3, stride: 1})
	}
	residual("conv32_1", 32, 32, 1)
	residual("conv32_2", 32, 32, 1)
	residual("conv32_3", 32, 32, 1)
	residual("conv64_down", 32, 64, 2)
	residual("conv64_1", 64, 64, 1)
	residual("conv64_2", 64, 64, 1)
	residual("conv64_3", 64, 64, 1)
	residual("conv128_down", 64, 128, 2)
	residual("conv128_1", 128, 128, 1)
	residual("conv128_2", 128, 128, 1)
	residual("conv256_down", 128, 256, 2)
	residual("conv256_1", 256, 256, 1)
	residual("conv256_2", 256, 256, 1)
	residual("conv256_down_out", 256, 256, 2)
	return units
}

// Sizes of the final fully connected layer (fc_no_bias<128> on 256 pooled channels).
const (
	fcInputs  = 256
	fcOutputs = 128
)

// Kinds of parameter block handed to the C++ side; they match the enum in dlibnet.h.
const (
	blockCon    = 1
	blockAffine = 2
	blockFC     = 3
)

// parameterBlock holds the parameters of one dlib layer in dlib's layout.
type parameterBlock struct {
	kind   int
	dims   [5]int // con: out, in, h, w, stride; affine: channels; fc: in, out
	values []float32
}

// dlibParameterBlocks turns the TensorFlow.js tensors into dlib parameter blocks, from the
// input to the output: for each convolution a con_ block (filters transposed from tfjs's
// [h,w,in,out] to dlib's [out,in,h,w], then the biases) and an affine_ block (gamma, then
// beta), and finally the fc_no_bias weights, which are [in,out] in both. unitDone is called
// after each convolution unit.
func dlibParameterBlocks(tensors map[string]tfjsTensor, manifestPath string, unitDone func()) ([]parameterBlock, error) {
	used := make(map[string]bool)
	take := func(name string, shape ...int) ([]float32, error) {
		t, ok := tensors[name]
		if !ok {
			return nil, fmt.Errorf("manifest %s does not list tensor %q, which the network needs", manifestPath, name)
		}
		if !slices.Equal(t.shape, shape) {
			return nil, fmt.Errorf("manifest %s: tensor %q has shape %v, the network needs %v", manifestPath, name, t.shape, shape)
		}
		used[name] = true
		return t.values, nil
	}

	var blocks []parameterBlock
	for _, u := range recognitionConvUnits() {
		filters, err := take(u.prefix+"/conv/filters", u.kernel, u.kernel, u.in, u.out)
		if err != nil {
			return nil, err
		}
		bias, err := take(u.prefix+"/conv/bias", u.out)
		if err != nil {
			return nil, err
		}
		gamma, err := take(u.prefix+"/scale/weights", u.out)
		if err != nil {
			return nil, err
		}
		beta, err := take(u.prefix+"/scale/biases", u.out)
		if err != nil {
			return nil, err
		}
		con := make([]float32, 0, len(filters)+len(bias))
		con = append(con, filtersToDlib(filters, u.kernel, u.kernel, u.in, u.out)...)
		con = append(con, bias...)
		blocks = append(blocks,
			parameterBlock{kind: blockCon, dims: [5]int{u.out, u.in, u.kernel, u.kernel, u.stride}, values: con},
			parameterBlock{kind: blockAffine, dims: [5]int{u.out}, values: slices.Concat(gamma, beta)})
		unitDone()
	}
	fc, err := take("fc", fcInputs, fcOutputs)
	if err != nil {
		return nil, err
	}
	blocks = append(blocks, parameterBlock{kind: blockFC, dims: [5]int{fcInputs, fcOutputs}, values: fc})

	var unused []string
	for name := range tensors {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return nil, fmt.Errorf("manifest %s lists tensors the network does not have: %q", manifestPath, unused)
	}
	return blocks, nil
}

// filtersToDlib reorders convolution filters from TensorFlow.js's [h,w,in,out] layout to
// dlib's [out,in,h,w].
func filtersToDlib(tfjs []float32, h, w, in, out int) []float32 {
	dlib := make([]float32, len(tfjs))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					dlib[((o*in+i)*h+y)*w+x] = tfjs[((y*w+x)*in+i)*out+o]
				}
			}
		}
	}
	return dlib
}
