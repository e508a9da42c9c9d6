// C interface between convertmodel's Go code and the C++ code that builds go-face's anet_type.
#ifndef FACEMATCH_CONVERTMODEL_DLIBNET_H
#define FACEMATCH_CONVERTMODEL_DLIBNET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Kinds of parameter block, one block per dlib layer that holds parameters.
enum {
	BLOCK_CON = 1,    // con_: filters [out,in,h,w] followed by one bias per filter
	BLOCK_AFFINE = 2, // affine_ in CONV mode: gamma [channels] followed by beta [channels]
	BLOCK_FC = 3      // fc_no_bias: weights [in,out]
};

// Number of longs describing each block in the dims array:
// out, in, h, w, stride for BLOCK_CON; channels for BLOCK_AFFINE; in, out for BLOCK_FC.
#define BLOCK_DIMS 5

// Result of serialize_recognition_net: either bytes (malloc'd) or err (malloc'd).
typedef struct {
	unsigned char* bytes;
	size_t len;
	char* err;
} serialized_net;

// serialize_recognition_net builds go-face's anet_type, fills its layers from the blocks
// (listed from the input to the output) and returns dlib's serialization of it.
serialized_net serialize_recognition_net(const float* values, const int* kinds,
                                         const long* dims, const size_t* lens,
                                         size_t count);

// free_serialized_net releases what serialize_recognition_net allocated.
void free_serialized_net(serialized_net* net);

#ifdef __cplusplus
}
#endif

#endif
