// facerec.cc of github.com/Kagami/go-face at v0.0.0-20210630145111-0c14797b4d0e (CC0), with the
// changes listed in goface.go: the shape predictor is shared by every recognizer loaded from the
// same file, each face keeps the score its detector gave it, and the symbols live in namespace
// goface. The recognition itself is upstream's (FaceRec::Recognize).
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include <dlib/dnn.h>
#include <dlib/image_loader/image_loader.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include "facerec.h"
#include "jpeg_mem_loader.h"

using namespace dlib;

namespace goface {

template <template <int,template<typename>class,int,typename> class block, int N, template<typename>class BN, typename SUBNET>
using residual = add_prev1<block<N,BN,1,tag1<SUBNET>>>;

template <template <int,template<typename>class,int,typename> class block, int N, template<typename>class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block  = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>;

template <int N, typename SUBNET> using ares      = relu<residual<block,N,affine,SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block,N,affine,SUBNET>>;

template <typename SUBNET> using alevel0 = ares_down<256,SUBNET>;
template <typename SUBNET> using alevel1 = ares<256,ares<256,ares_down<256,SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128,ares<128,ares_down<128,SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64,ares<64,ares<64,ares_down<64,SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32,ares<32,ares<32,SUBNET>>>;

template <long num_filters, typename SUBNET> using con5d = con<num_filters,5,5,2,2,SUBNET>;
template <long num_filters, typename SUBNET> using con5  = con<num_filters,5,5,1,1,SUBNET>;

template <typename SUBNET> using downsampler  = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16,SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5  = relu<affine<con5<45,SUBNET>>>;

using cnn_anet_type = loss_mmod<con<1,9,9,1,1,rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

using anet_type = loss_metric<fc_no_bias<128,avg_pool_everything<
                            alevel0<
                            alevel1<
                            alevel2<
                            alevel3<
                            alevel4<
                            max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,
                            input_rgb_image_sized<150>
                            >>>>>>>>>>>>;

typedef matrix<float,0,1> descriptor;

static const size_t RECT_LEN = 4;
static const size_t DESCR_LEN = 128;
static const size_t SHAPE_LEN = 2;
static const size_t RECT_SIZE = RECT_LEN * sizeof(long);
static const size_t DESCR_SIZE = DESCR_LEN * sizeof(float);
static const size_t SHAPE_SIZE = SHAPE_LEN * sizeof(long);

// shared_shape_predictor returns the shape predictor deserialized from path, loading it only when
// no recognizer holds one from the same file (same path, size and modification time). Sharing is
// safe: shape_predictor::operator() is const and keeps no state between calls, which is why
// upstream already calls it outside every lock. The 68-point predictor is about 65 MB once
// deserialized, so each recognizer past the first saves that much.
static std::shared_ptr<const shape_predictor> shared_shape_predictor(const std::string& path) {
	namespace fs = std::filesystem;
	static std::mutex mu;
	static std::map<std::string, std::weak_ptr<const shape_predictor>> loaded;

	std::error_code ec;
	fs::path canonical = fs::canonical(path, ec);
	std::string key = ec ? path : canonical.string();
	if (!ec) {
		auto size = fs::file_size(canonical, ec);
		auto mtime = fs::last_write_time(canonical, ec).time_since_epoch().count();
		if (!ec) key += "\n" + std::to_string(size) + "\n" + std::to_string(mtime);
	}

	std::lock_guard<std::mutex> lock(mu);
	if (auto sp = loaded[key].lock()) return sp;
	auto sp = std::make_shared<shape_predictor>();
	deserialize(path) >> *sp;
	loaded[key] = sp;
	for (auto it = loaded.begin(); it != loaded.end();) {
		it = it->second.expired() ? loaded.erase(it) : std::next(it);
	}
	return sp;
}

class FaceRec {
public:
	FaceRec(const char* model_dir) {
		detector_ = get_frontal_face_detector();

		std::string dir = model_dir;
		std::string shape_predictor_path = dir + "/shape_predictor_5_face_landmarks.dat";
		std::string resnet_path = dir + "/dlib_face_recognition_resnet_model_v1.dat";
		std::string cnn_resnet_path = dir + "/mmod_human_face_detector.dat";

		sp_ = shared_shape_predictor(shape_predictor_path);
		deserialize(resnet_path) >> net_;
		deserialize(cnn_resnet_path) >> cnn_net_;

		size = 150;
		padding = 0.25;
	}

	// Recognize is upstream's, but for the detectors' scores: upstream's detector_(img) is
	// dlib's detector_(img, dets) with each rect_detection's score dropped, and upstream sorts
	// the rectangles alone, so here each score travels with its rectangle through the same sort.
	std::tuple<std::vector<rectangle>, std::vector<double>, std::vector<descriptor>, std::vector<full_object_detection>>
	Recognize(const matrix<rgb_pixel>& img,int max_faces,int type) {
		std::vector<std::pair<rectangle, double>> found;
		std::vector<rectangle> rects;
		std::vector<double> scores;
		std::vector<descriptor> descrs;
		std::vector<full_object_detection> shapes;

		if(type == 0) {
			std::lock_guard<std::mutex> lock(detector_mutex_);
			std::vector<rect_detection> dets;
			detector_(img, dets);
			for (auto&& d : dets) {
				found.emplace_back(d.rect, d.detection_confidence);
			}
		} else{
			std::lock_guard<std::mutex> lock(cnn_net_mutex_);
			auto dets = cnn_net_(img);
			for (auto&& d : dets) {
				found.emplace_back(d.rect, d.detection_confidence);
			}
		}

		std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
		for (auto&& f : found) {
			rects.push_back(f.first);
			scores.push_back(f.second);
		}

		// Short circuit.
		if (rects.size() == 0 || (max_faces > 0 && rects.size() > (size_t)max_faces))
			return {std::move(rects), std::move(scores), std::move(descrs), std::move(shapes)};

		for (const auto& rect : rects) {
			auto shape = (*sp_)(img, rect);
			shapes.push_back(shape);
			matrix<rgb_pixel> face_chip;
			extract_image_chip(img, get_face_chip_details(shape, size, padding), face_chip);
			std::lock_guard<std::mutex> lock(net_mutex_);
			descrs.push_back(net_(face_chip));
		}

		return {std::move(rects), std::move(scores), std::move(descrs), std::move(shapes)};
	}

private:
	std::mutex detector_mutex_;
	std::mutex net_mutex_;
	std::mutex cnn_net_mutex_;
	frontal_face_detector detector_;
	std::shared_ptr<const shape_predictor> sp_;
	anet_type net_;
	cnn_anet_type cnn_net_;
	unsigned long size;
	double padding;
};

}  // namespace goface

using goface::FaceRec;

// Plain C interface for Go.

goface_rec* goface_init(const char* model_dir) {
	goface_rec* rec = (goface_rec*)calloc(1, sizeof(goface_rec));
	try {
		FaceRec* cls = new FaceRec(model_dir);
		rec->cls = (void*)cls;
	} catch(serialization_error& e) {
		rec->err_str = strdup(e.what());
		rec->err_code = GOFACE_SERIALIZATION_ERROR;
	} catch (std::exception& e) {
		rec->err_str = strdup(e.what());
		rec->err_code = GOFACE_UNKNOWN_ERROR;
	}
	return rec;
}

goface_ret* goface_recognize(goface_rec* rec, const uint8_t* img_data, int len, int max_faces,int type) {
	goface_ret* ret = (goface_ret*)calloc(1, sizeof(goface_ret));
	FaceRec* cls = (FaceRec*)(rec->cls);
	matrix<rgb_pixel> img;
	std::vector<rectangle> rects;
	std::vector<double> scores;
	std::vector<goface::descriptor> descrs;
	std::vector<full_object_detection> shapes;

	try {
		goface::load_mem_jpeg(img, img_data, len);
		std::tie(rects, scores, descrs, shapes) = cls->Recognize(img, max_faces,type);
	} catch(image_load_error& e) {
		ret->err_str = strdup(e.what());
		ret->err_code = GOFACE_IMAGE_LOAD_ERROR;
		return ret;
	} catch (std::exception& e) {
		ret->err_str = strdup(e.what());
		ret->err_code = GOFACE_UNKNOWN_ERROR;
		return ret;
	}
	ret->num_faces = descrs.size();

	if (ret->num_faces == 0)
		return ret;
	ret->rectangles = (long*)malloc(ret->num_faces * goface::RECT_SIZE);
	for (int i = 0; i < ret->num_faces; i++) {
		long* dst = ret->rectangles + i * goface::RECT_LEN;
		dst[0] = rects[i].left();
		dst[1] = rects[i].top();
		dst[2] = rects[i].right();
		dst[3] = rects[i].bottom();
	}
	ret->scores = (double*)malloc(ret->num_faces * sizeof(double));
	for (int i = 0; i < ret->num_faces; i++) {
		ret->scores[i] = scores[i];
	}
	ret->descriptors = (float*)malloc(ret->num_faces * goface::DESCR_SIZE);
	for (int i = 0; i < ret->num_faces; i++) {
		void* dst = (uint8_t*)(ret->descriptors) + i * goface::DESCR_SIZE;
		void* src = (void*)&descrs[i](0,0);
		memcpy(dst, src, goface::DESCR_SIZE);
	}
	ret->num_shapes = shapes[0].num_parts();
	ret->shapes = (long*)malloc(ret->num_faces * ret->num_shapes * goface::SHAPE_SIZE);
	for (int i = 0; i < ret->num_faces; i++) {
		long* dst = ret->shapes + i * ret->num_shapes * goface::SHAPE_LEN;
		const auto& shape = shapes[i];
		for (int j = 0; j < ret->num_shapes; j++) {
			dst[j*goface::SHAPE_LEN] = shape.part(j).x();
			dst[j*goface::SHAPE_LEN+1] = shape.part(j).y();
		}
	}
	return ret;
}

void goface_free(goface_rec* rec) {
	if (rec) {
		if (rec->cls) {
			FaceRec* cls = (FaceRec*)(rec->cls);
			delete cls;
			rec->cls = NULL;
		}
		free(rec);
	}
}
