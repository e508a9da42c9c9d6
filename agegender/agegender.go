// Package agegender estimates the age and gender of a face with the age and gender network of
// face-api.js 0.22.2 (a "tiny Xception" with two heads), computed in plain Go straight from the
// network's TensorFlow.js export: the weights manifest and its shard.
//
// It follows face-api.js's ageGenderNet and xception sources: TensorFlow's "same" paddings,
// a 112x112 RGB input normalized with dlib's channel means and divided by 256, a 7x7 average
// pool and two fully connected heads. Its authors present it as a rough estimator: expect an age
// error of several years (docs/calibration.md has what it measures on the fixtures).
package agegender

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/facematch/facematch/internal/tfjs"
)

// InputSize is the width and height, in pixels, of the face crop the network reads.
const InputSize = 112

// The files of the export, as face-api.js names them.
const (
	ManifestFile = "age_gender_model-weights_manifest.json"
	ShardFile    = "age_gender_model-shard1"
)

// Per-channel means subtracted before dividing by 256, as face-api.js's ageGenderNet does.
const (
	meanRed   float32 = 122.782
	meanGreen float32 = 117.001
	meanBlue  float32 = 104.298
)

// Estimate is what the network says of one face.
type Estimate struct {
	// Age is the estimated age in years.
	Age float64
	// Male and Female are the softmax of the gender head's two logits; they sum to 1.
	Male, Female float64
}

// Gender is "male" when the network gives that more than even odds, else "female", as
// face-api.js decides.
func (e Estimate) Gender() string {
	if e.Male > 0.5 {
		return "male"
	}
	return "female"
}

// Net is the age and gender network with its weights. It is read-only once loaded and safe
// for concurrent use.
type Net struct {
	convIn, convInBias []float32 // [3*3*3, 32]
	entry              [2]reductionBlock
	middle             [2]mainBlock
	exit               reductionBlock
	exitConv           separableConv
	ageW, ageB         []float32 // [512, 1]
	genderW, genderB   []float32 // [512, 2]
}

// separableConv is a 3x3 depthwise convolution (stride 1, "same"), then a 1x1 pointwise
// convolution plus bias.
type separableConv struct {
	in, out   int
	depthwise []float32 // [3*3, in]
	pointwise []float32 // [in, out]
	bias      []float32 // [out]
}

// reductionBlock halves the map: two separable convolutions, a 3x3 max pool of stride 2, plus
// a 1x1 stride-2 convolution of the block's input.
type reductionBlock struct {
	reluInput  bool
	conv0      separableConv
	conv1      separableConv
	expansion  []float32 // [in, out]
	expansionB []float32
}

// mainBlock is three ReLU + separable convolutions plus the block's input.
type mainBlock struct {
	convs [3]separableConv
}

// Load reads the TensorFlow.js weights manifest and the shard it describes, and checks that
// they hold exactly the tensors of the network, with the shapes it needs.
func Load(manifestPath, shardPath string) (*Net, error) {
	tensors, err := tfjs.ReadTensors(manifestPath, shardPath)
	if err != nil {
		return nil, err
	}
	used := 0
	var firstErr error
	get := func(name string, shape ...int) []float32 {
		t, ok := tensors[name]
		switch {
		case firstErr != nil:
			return nil
		case !ok:
			firstErr = fmt.Errorf("tensor %q missing from %s", name, manifestPath)
			return nil
		case !slices.Equal(t.Shape, shape):
			firstErr = fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
			return nil
		}
		used++
		return t.Data
	}
	sep := func(prefix string, in, out int) separableConv {
		return separableConv{
			in: in, out: out,
			depthwise: get(prefix+"/depthwise_filter", 3, 3, in, 1),
			pointwise: get(prefix+"/pointwise_filter", 1, 1, in, out),
			bias:      get(prefix+"/bias", out),
		}
	}
	reduction := func(prefix string, in, out int, reluInput bool) reductionBlock {
		return reductionBlock{
			reluInput:  reluInput,
			conv0:      sep(prefix+"/separable_conv0", in, out),
			conv1:      sep(prefix+"/separable_conv1", out, out),
			expansion:  get(prefix+"/expansion_conv/filters", 1, 1, in, out),
			expansionB: get(prefix+"/expansion_conv/bias", out),
		}
	}
	main := func(prefix string, ch int) mainBlock {
		var b mainBlock
		for i := range b.convs {
			b.convs[i] = sep(fmt.Sprintf("%s/separable_conv%d", prefix, i), ch, ch)
		}
		return b
	}

	n := &Net{
		convIn:     get("entry_flow/conv_in/filters", 3, 3, 3, 32),
		convInBias: get("entry_flow/conv_in/bias", 32),
		entry: [2]reductionBlock{
			reduction("entry_flow/reduction_block_0", 32, 64, false),
			reduction("entry_flow/reduction_block_1", 64, 128, true),
		},
		middle:   [2]mainBlock{main("middle_flow/main_block_0", 128), main("middle_flow/main_block_1", 128)},
		exit:     reduction("exit_flow/reduction_block", 128, 256, true),
		exitConv: sep("exit_flow/separable_conv", 256, 512),
		ageW:     get("fc/age/weights", 512, 1),
		ageB:     get("fc/age/bias", 1),
		genderW:  get("fc/gender/weights", 512, 2),
		genderB:  get("fc/gender/bias", 2),
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if used != len(tensors) {
		return nil, fmt.Errorf("%s lists %d tensors, the network uses %d", manifestPath, len(tensors), used)
	}
	return n, nil
}

// fmap is a feature map of one sample, height x width x channels, channels last as in
// TensorFlow.js.
type fmap struct {
	h, w, c int
	data    []float32
}

func newMap(h, w, c int) fmap { return fmap{h: h, w: w, c: c, data: make([]float32, h*w*c)} }

// Predict runs the network on a 112x112 face crop given as row-major R, G, B bytes (see Input).
func (n *Net) Predict(rgb []byte) (Estimate, error) {
	if len(rgb) != InputSize*InputSize*3 {
		return Estimate{}, errors.New("the input must be 112*112*3 bytes of RGB")
	}
	x := newMap(InputSize, InputSize, 3)
	for i := 0; i < InputSize*InputSize; i++ {
		x.data[3*i] = (float32(rgb[3*i]) - meanRed) / 256
		x.data[3*i+1] = (float32(rgb[3*i+1]) - meanGreen) / 256
		x.data[3*i+2] = (float32(rgb[3*i+2]) - meanBlue) / 256
	}

	x = n.conv3x3Stride2(x)
	x = n.entry[0].apply(x)
	x = n.entry[1].apply(x)
	for _, b := range n.middle {
		x = b.apply(x)
	}
	x = n.exit.apply(x)
	x = n.exitConv.apply(x, true)

	pooled := averagePool7x7(x)
	age := float64(n.ageB[0])
	logits := [2]float64{float64(n.genderB[0]), float64(n.genderB[1])}
	for i, v := range pooled {
		age += float64(v) * float64(n.ageW[i])
		logits[0] += float64(v) * float64(n.genderW[2*i])
		logits[1] += float64(v) * float64(n.genderW[2*i+1])
	}
	top := math.Max(logits[0], logits[1])
	em, ef := math.Exp(logits[0]-top), math.Exp(logits[1]-top)
	return Estimate{Age: age, Male: em / (em + ef), Female: ef / (em + ef)}, nil
}

// conv3x3Stride2 is conv_in and its ReLU: a 3x3 convolution of stride 2 with TensorFlow's
// "same" padding (for an even size, nothing before and one row and column after), plus bias.
func (n *Net) conv3x3Stride2(x fmap) fmap {
	oh, ow := (x.h+1)/2, (x.w+1)/2
	padTop := max(0, (oh-1)*2+3-x.h) / 2
	padLeft := max(0, (ow-1)*2+3-x.w) / 2
	k := 9 * x.c
	cols := make([]float32, oh*ow*k)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := cols[(oy*ow+ox)*k:][:k]
			for ky := 0; ky < 3; ky++ {
				sy := 2*oy + ky - padTop
				if sy < 0 || sy >= x.h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					sx := 2*ox + kx - padLeft
					if sx < 0 || sx >= x.w {
						continue
					}
					copy(row[(ky*3+kx)*x.c:][:x.c], x.data[(sy*x.w+sx)*x.c:][:x.c])
				}
			}
		}
	}
	out := newMap(oh, ow, len(n.convInBias))
	gemm(oh*ow, k, out.c, cols, n.convIn, n.convInBias, out.data, true)
	return out
}

// apply runs the separable convolution, then a ReLU when relu is set.
func (s separableConv) apply(x fmap, relu bool) fmap {
	dw := newMap(x.h, x.w, x.c)
	for y := 0; y < x.h; y++ {
		for ky := 0; ky < 3; ky++ {
			sy := y + ky - 1
			if sy < 0 || sy >= x.h {
				continue
			}
			for kx := 0; kx < 3; kx++ {
				x0, x1 := max(0, 1-kx), min(x.w, x.w+1-kx)
				dwRow(dw.data[(y*x.w+x0)*x.c:], x.data[(sy*x.w+x0+kx-1)*x.c:], s.depthwise[(ky*3+kx)*x.c:], x1-x0, x.c)
			}
		}
	}
	out := newMap(x.h, x.w, s.out)
	gemm(x.h*x.w, x.c, s.out, dw.data, s.pointwise, s.bias, out.data, relu)
	return out
}

// apply runs the reduction block.
func (b reductionBlock) apply(x fmap) fmap {
	in := x
	if b.reluInput {
		in = fmap{h: x.h, w: x.w, c: x.c, data: slices.Clone(x.data)}
		relu(in.data)
	}
	y := b.conv0.apply(in, true)
	y = b.conv1.apply(y, false)
	y = maxPool3x3Stride2(y)

	// The 1x1 stride-2 "same" convolution reads every other pixel, from the first.
	sub := newMap(y.h, y.w, x.c)
	for oy := 0; oy < y.h; oy++ {
		for ox := 0; ox < y.w; ox++ {
			copy(sub.data[(oy*y.w+ox)*x.c:][:x.c], x.data[(2*oy*x.w+2*ox)*x.c:][:x.c])
		}
	}
	shortcut := newMap(y.h, y.w, y.c)
	gemm(y.h*y.w, x.c, y.c, sub.data, b.expansion, b.expansionB, shortcut.data, false)
	for i, v := range shortcut.data {
		y.data[i] += v
	}
	return y
}

// apply runs the main block: the ReLU before each separable convolution but the first is
// fused into the convolution before it.
func (b mainBlock) apply(x fmap) fmap {
	y := fmap{h: x.h, w: x.w, c: x.c, data: slices.Clone(x.data)}
	relu(y.data)
	for i, c := range b.convs {
		y = c.apply(y, i < len(b.convs)-1)
	}
	for i, v := range x.data {
		y.data[i] += v
	}
	return y
}

func relu(v []float32) {
	for i, x := range v {
		if x < 0 {
			v[i] = 0
		}
	}
}

// maxPool3x3Stride2 is a 3x3 max pool of stride 2 with TensorFlow's "same" padding, where the
// padding never wins.
func maxPool3x3Stride2(x fmap) fmap {
	oh, ow := (x.h+1)/2, (x.w+1)/2
	padTop := max(0, (oh-1)*2+3-x.h) / 2
	padLeft := max(0, (ow-1)*2+3-x.w) / 2
	out := newMap(oh, ow, x.c)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			dst := out.data[(oy*ow+ox)*x.c:][:x.c]
			first := true
			for ky := 0; ky < 3; ky++ {
				sy := 2*oy + ky - padTop
				if sy < 0 || sy >= x.h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					sx := 2*ox + kx - padLeft
					if sx < 0 || sx >= x.w {
						continue
					}
					src := x.data[(sy*x.w+sx)*x.c:][:x.c]
					if first {
						copy(dst, src)
						first = false
						continue
					}
					for i, v := range src {
						dst[i] = max(dst[i], v)
					}
				}
			}
		}
	}
	return out
}

// averagePool7x7 is the 7x7 average pool of stride 2 ("valid") on the 7x7 exit map: the mean
// of each channel.
func averagePool7x7(x fmap) []float32 {
	out := make([]float32, x.c)
	for p := 0; p < x.h*x.w; p++ {
		for i, v := range x.data[p*x.c:][:x.c] {
			out[i] += v
		}
	}
	for i := range out {
		out[i] /= float32(x.h * x.w)
	}
	return out
}
