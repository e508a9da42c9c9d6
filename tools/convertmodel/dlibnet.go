package main

// #cgo CXXFLAGS: -std=c++17 -O2
// #cgo LDFLAGS: -ldlib -lopenblas -llapack
// #include <stdlib.h>
// #include "dlibnet.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// serializeRecognitionNet hands the parameter blocks to dlib, which builds go-face's
// anet_type from them and returns its serialization.
func serializeRecognitionNet(blocks []parameterBlock) ([]byte, error) {
	if len(blocks) == 0 {
		return nil, errors.New("no parameter blocks")
	}
	total := 0
	for _, b := range blocks {
		total += len(b.values)
	}
	values := make([]C.float, 0, total)
	kinds := make([]C.int, len(blocks))
	dims := make([]C.long, len(blocks)*C.BLOCK_DIMS)
	lens := make([]C.size_t, len(blocks))
	for i, b := range blocks {
		kinds[i] = C.int(b.kind)
		for j, d := range b.dims {
			dims[i*C.BLOCK_DIMS+j] = C.long(d)
		}
		lens[i] = C.size_t(len(b.values))
		for _, v := range b.values {
			values = append(values, C.float(v))
		}
	}
	net := C.serialize_recognition_net(&values[0], &kinds[0], &dims[0], &lens[0], C.size_t(len(blocks)))
	defer C.free_serialized_net(&net)
	if net.err != nil {
		return nil, fmt.Errorf("build dlib network: %s", C.GoString(net.err))
	}
	return C.GoBytes(unsafe.Pointer(net.bytes), C.int(net.len)), nil
}
