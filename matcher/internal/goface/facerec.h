// The C interface of go-face's facerec.h, with its names prefixed by goface_ so that the fork
// and upstream can be linked into one binary (the fork's tests compare them).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	GOFACE_IMAGE_LOAD_ERROR,
	GOFACE_SERIALIZATION_ERROR,
	GOFACE_UNKNOWN_ERROR,
} goface_err_code;

typedef struct goface_rec {
	void* cls;
	const char* err_str;
	goface_err_code err_code;
} goface_rec;

typedef struct goface_ret {
	int num_faces;
	long* rectangles;
	double* scores; // the detector's score of each face (not in upstream)
	float* descriptors;
	int num_shapes;
	long* shapes;
	const char* err_str;
	goface_err_code err_code;
} goface_ret;

goface_rec* goface_init(const char* model_dir);
goface_ret* goface_recognize(goface_rec* rec, const uint8_t* img_data, int len, int max_faces, int type);
void goface_free(goface_rec* rec);

#ifdef __cplusplus
}
#endif
