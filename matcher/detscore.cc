#include "detscore.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_processing/frontal_face_detector.h>

using namespace dlib;

// The CNN detector's network, as go-face's facerec.cc declares it (dlib's
// dnn_mmod_face_detection_ex.cpp).
template <long num_filters, typename SUBNET> using con5d = con<num_filters, 5, 5, 2, 2, SUBNET>;
template <long num_filters, typename SUBNET> using con5 = con<num_filters, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5 = relu<affine<con5<45, SUBNET>>>;
using cnn_type = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

struct detscore {
	frontal_face_detector hog = get_frontal_face_detector();
	cnn_type cnn;
};

extern "C" detscore* detscore_new(const char* cnn_path, char** err) {
	try {
		auto* s = new detscore;
		deserialize(cnn_path) >> s->cnn;
		return s;
	} catch (const std::exception& e) {
		*err = strdup(e.what());
		return nullptr;
	}
}

extern "C" void detscore_free(detscore* s) { delete s; }

extern "C" int detscore_run(detscore* s, const unsigned char* rgb, int w, int h, int cnn, double adjust,
                            long* rects, double* scores, int max) {
	try {
		matrix<rgb_pixel> img(h, w);
		std::memcpy(&img(0, 0), rgb, size_t(w) * h * 3);
		std::vector<rect_detection> dets;
		if (cnn) {
			for (auto&& d : s->cnn(img)) {
				dets.push_back(rect_detection{d.detection_confidence, 0, d.rect});
			}
			// The network keeps every layer's output until the next
			// pass; a fallback pass is rare, so give them back now.
			s->cnn.clean();
		} else {
			s->hog(img, dets, adjust);
		}
		int n = 0;
		for (auto&& d : dets) {
			if (n == max) break;
			rects[4 * n] = d.rect.left();
			rects[4 * n + 1] = d.rect.top();
			rects[4 * n + 2] = d.rect.right();
			rects[4 * n + 3] = d.rect.bottom();
			scores[n] = d.detection_confidence;
			n++;
		}
		return n;
	} catch (...) {
		return -1;
	}
}
