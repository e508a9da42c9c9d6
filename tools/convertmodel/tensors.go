package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
)

// tfjsTensor is one dequantized tensor of a TensorFlow.js export, in its original layout.
type tfjsTensor struct {
	shape  []int
	values []float32
}

// weightsManifestGroup is one group of a TensorFlow.js weights manifest: the shard files and
// the tensors stored in them, in file order.
type weightsManifestGroup struct {
	Paths   []string              `json:"paths"`
	Weights []weightsManifestItem `json:"weights"`
}

// weightsManifestItem describes one tensor of a TensorFlow.js weights manifest.
type weightsManifestItem struct {
	Name         string             `json:"name"`
	Shape        []int              `json:"shape"`
	Dtype        string             `json:"dtype"`
	Quantization *weightsQuantizing `json:"quantization"`
}

// weightsQuantizing is the quantization of a stored tensor: value = min + q*scale for the
// integer types, a plain half-precision float for float16.
type weightsQuantizing struct {
	Dtype string   `json:"dtype"`
	Scale *float64 `json:"scale"`
	Min   *float64 `json:"min"`
}

// storedBytesPerElement returns how many bytes one element of the tensor takes in the
// weights file, or an error naming an encoding this converter does not know.
func (item weightsManifestItem) storedBytesPerElement() (int, error) {
	if item.Dtype != "float32" {
		return 0, fmt.Errorf("tensor %q has dtype %q; only float32 tensors are supported", item.Name, item.Dtype)
	}
	if item.Quantization == nil {
		return 4, nil
	}
	switch q := item.Quantization; q.Dtype {
	case "uint8", "uint16":
		if q.Scale == nil || q.Min == nil {
			return 0, fmt.Errorf("tensor %q is %s-quantized but lacks scale or min", item.Name, q.Dtype)
		}
		if q.Dtype == "uint8" {
			return 1, nil
		}
		return 2, nil
	case "float16":
		return 2, nil
	default:
		return 0, fmt.Errorf("tensor %q has quantization dtype %q; supported: uint8, uint16, float16, or none", item.Name, q.Dtype)
	}
}

// dequantize decodes the stored bytes of the tensor into float32 values the way
// TensorFlow.js does: min + q*scale computed in float64, then rounded to float32.
func (item weightsManifestItem) dequantize(stored []byte, count int) []float32 {
	values := make([]float32, count)
	switch {
	case item.Quantization == nil:
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(stored[4*i:]))
		}
	case item.Quantization.Dtype == "uint8":
		scale, minimum := *item.Quantization.Scale, *item.Quantization.Min
		for i := range values {
			values[i] = float32(float64(stored[i])*scale + minimum)
		}
	case item.Quantization.Dtype == "uint16":
		scale, minimum := *item.Quantization.Scale, *item.Quantization.Min
		for i := range values {
			values[i] = float32(float64(binary.LittleEndian.Uint16(stored[2*i:]))*scale + minimum)
		}
	case item.Quantization.Dtype == "float16":
		for i := range values {
			values[i] = halfToFloat32(binary.LittleEndian.Uint16(stored[2*i:]))
		}
	}
	return values
}

// halfToFloat32 converts an IEEE 754 half-precision number to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exponent := uint32(h>>10) & 0x1f
	mantissa := uint32(h) & 0x3ff
	switch {
	case exponent == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mantissa<<13)
	case exponent == 0 && mantissa == 0:
		return math.Float32frombits(sign)
	case exponent == 0:
		// Subnormal half: normalize it for float32.
		e := uint32(127 - 15 + 1)
		for mantissa&0x400 == 0 {
			mantissa <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mantissa&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exponent+127-15)<<23 | mantissa<<13)
	}
}

// readTensors reads a TensorFlow.js weights manifest and the weights file it describes (the
// concatenation of its shards) and returns every tensor by name, dequantized.
func readTensors(manifestPath, weightsPath string) (map[string]tfjsTensor, error) {
	manifestBytes, err := os.ReadFile(manifestPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("missing %s: the TensorFlow.js weights manifest does not exist", manifestPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", manifestPath, err)
	}
	var groups []weightsManifestGroup
	if err := json.Unmarshal(manifestBytes, &groups); err != nil {
		return nil, fmt.Errorf("manifest %s is not a TensorFlow.js weights manifest (a JSON array of groups): %v", manifestPath, err)
	}

	weights, err := os.ReadFile(weightsPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("missing %s: the TensorFlow.js weights file does not exist", weightsPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read weights %s: %w", weightsPath, err)
	}

	tensors := make(map[string]tfjsTensor)
	offset := 0
	for _, group := range groups {
		for _, item := range group.Weights {
			if item.Name == "" {
				return nil, fmt.Errorf("manifest %s: a tensor has no name", manifestPath)
			}
			if _, dup := tensors[item.Name]; dup {
				return nil, fmt.Errorf("manifest %s lists tensor %q twice", manifestPath, item.Name)
			}
			count := 1
			for _, dim := range item.Shape {
				if dim <= 0 || count > math.MaxInt32/dim {
					return nil, fmt.Errorf("manifest %s: tensor %q has an invalid shape %v", manifestPath, item.Name, item.Shape)
				}
				count *= dim
			}
			size, err := item.storedBytesPerElement()
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", manifestPath, err)
			}
			end := offset + count*size
			if end > len(weights) {
				return nil, fmt.Errorf("weights file %s is truncated: it has %d bytes, but manifest %s places tensor %q at bytes %d to %d",
					weightsPath, len(weights), manifestPath, item.Name, offset, end)
			}
			values := item.dequantize(weights[offset:end], count)
			for i, v := range values {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("weights file %s is corrupt: element %d of tensor %q is %v", weightsPath, i, item.Name, v)
				}
			}
			tensors[item.Name] = tfjsTensor{shape: item.Shape, values: values}
			offset = end
		}
	}
	if len(tensors) == 0 {
		return nil, fmt.Errorf("manifest %s lists no tensors", manifestPath)
	}
	if offset != len(weights) {
		return nil, fmt.Errorf("weights file %s has %d bytes, but manifest %s describes %d: they do not belong together",
			weightsPath, len(weights), manifestPath, offset)
	}
	return tensors, nil
}
