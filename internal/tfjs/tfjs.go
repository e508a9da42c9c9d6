// Package tfjs reads the tensors of a TensorFlow.js weights export (a manifest and its shards),
// dequantized: what the project's plain-Go forward passes (the age/gender network, and the
// recognition network that checks the converter) start from. It is deliberately not the
// converter's reader (tools/convertmodel), so that those passes check the converter on a
// code path of their own.
package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

type manifestGroup struct {
	Paths   []string        `json:"paths"`
	Weights []manifestEntry `json:"weights"`
}

type manifestEntry struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string   `json:"dtype"`
		Scale *float64 `json:"scale"`
		Min   *float64 `json:"min"`
	} `json:"quantization"`
}

// Tensor is one TensorFlow.js tensor, dequantized, in its original (row-major) layout.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ReadTensors returns every tensor of a TensorFlow.js export by name. Each entry is decoded
// as its own quantization field says: uint8 or uint16 (value = min + q * scale), float16, or
// plain float32 when the field is absent.
func ReadTensors(manifestPath, weightsPath string) (map[string]Tensor, error) {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("manifest %s: %v", manifestPath, err)
	}
	weights, err := os.ReadFile(weightsPath)
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}

	tensors := make(map[string]Tensor)
	pos := 0
	for _, g := range groups {
		for _, e := range g.Weights {
			n := 1
			for _, d := range e.Shape {
				if d <= 0 {
					return nil, fmt.Errorf("manifest %s: tensor %q has shape %v", manifestPath, e.Name, e.Shape)
				}
				n *= d
			}
			if e.Dtype != "float32" {
				return nil, fmt.Errorf("manifest %s: tensor %q has unsupported dtype %q", manifestPath, e.Name, e.Dtype)
			}
			if _, dup := tensors[e.Name]; dup {
				return nil, fmt.Errorf("manifest %s: tensor %q listed twice", manifestPath, e.Name)
			}
			width := 4
			if q := e.Quantization; q != nil {
				switch q.Dtype {
				case "uint8":
					width = 1
				case "uint16", "float16":
					width = 2
				default:
					return nil, fmt.Errorf("manifest %s: tensor %q has unsupported quantization %q", manifestPath, e.Name, q.Dtype)
				}
				if q.Dtype != "float16" && (q.Scale == nil || q.Min == nil) {
					return nil, fmt.Errorf("manifest %s: tensor %q lacks scale or min", manifestPath, e.Name)
				}
			}
			if pos+n*width > len(weights) {
				return nil, fmt.Errorf("weights %s: truncated at tensor %q (%d bytes, need %d)", weightsPath, e.Name, len(weights), pos+n*width)
			}
			b := weights[pos : pos+n*width]
			pos += n * width
			data := make([]float32, n)
			q := e.Quantization
			for i := range data {
				switch {
				case q == nil:
					data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				case q.Dtype == "uint8":
					data[i] = float32(*q.Min + float64(b[i])**q.Scale)
				case q.Dtype == "uint16":
					data[i] = float32(*q.Min + float64(binary.LittleEndian.Uint16(b[2*i:]))**q.Scale)
				default:
					data[i] = float16(binary.LittleEndian.Uint16(b[2*i:]))
				}
			}
			tensors[e.Name] = Tensor{Shape: e.Shape, Data: data}
		}
	}
	if pos != len(weights) {
		return nil, fmt.Errorf("weights %s: %d bytes, manifest %s describes %d", weightsPath, len(weights), manifestPath, pos)
	}
	return tensors, nil
}

// float16 decodes an IEEE 754 half-precision number.
func float16(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(frac, -24))
	case 0x1f:
		if frac != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1024+frac, exp-25))
}
