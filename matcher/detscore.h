// detscore: the scores of dlib's two face detectors, which go-face computes and drops.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef struct detscore detscore;

// detscore_new loads the CNN detector from cnn_path (mmod_human_face_detector.dat); the HOG
// detector is built into dlib. On failure it returns NULL and sets *err (free it with free).
detscore* detscore_new(const char* cnn_path, char** err);
void detscore_free(detscore* s);

// detscore_run runs the HOG (cnn == 0) or the CNN detector on an RGB image (w*h*3 bytes,
// row-major) with the detection threshold lowered by adjust (HOG only), and writes up to max
// detections: rects[4*i..4*i+3] = left, top, right, bottom (inclusive, as dlib's rectangles),
// scores[i] = the detector's score. It returns the number of detections, or -1 on an error.
int detscore_run(detscore* s, const unsigned char* rgb, int w, int h, int cnn, double adjust,
                 long* rects, double* scores, int max);

#ifdef __cplusplus
}
#endif
