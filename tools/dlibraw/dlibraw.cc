// dlibraw runs dlib's face pipeline directly, the way go-face does, with no Go in between.
// It is the reference of the converter's faithfulness test and the "raw dlib" baseline of
// benchmarks.
//
//   dlibraw chips MODELDIR
//       Reads 150x150 RGB face chips from stdin (150*150*3 bytes each, row-major, R G B)
//       and prints, for each, one line with the 128 floats of its descriptor (%.9g),
//       computed by the anet_type in MODELDIR/dlib_face_recognition_resnet_model_v1.dat.
//
//   dlibraw bench [--repeat N] MODELDIR IMAGE...
//       For each JPEG: dlib's load_image, the HOG frontal face detector on the full-size
//       image (no upsampling), sorted rectangles, the shape predictor
//       (MODELDIR/shape_predictor_5_face_landmarks.dat), extract_image_chip with
//       get_face_chip_details(shape, 150, 0.25) and the network. Prints one JSON line per
//       image with the time of each stage; with --repeat N, the median of N runs.
//
// One process uses one core (OpenBLAS is limited to one thread), like one go-face worker.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

extern "C" void openblas_set_num_threads(int num_threads);

using namespace dlib;

// The network type of go-face's facerec.cc (dlib's dnn_face_recognition_ex.cpp).
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;

template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<
                            alevel0<
                            alevel1<
                            alevel2<
                            alevel3<
                            alevel4<
                            max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2,
                            input_rgb_image_sized<150>
                            >>>>>>>>>>>>;

static const long chip_size = 150;
static const double chip_padding = 0.25;

static void usage() {
	std::fprintf(stderr,
	             "usage:\n"
	             "  dlibraw chips MODELDIR < chips.rgb\n"
	             "  dlibraw bench [--repeat N] MODELDIR IMAGE...\n");
}

static void load_network(const std::string& model_dir, anet_type& net) {
	deserialize(model_dir + "/dlib_face_recognition_resnet_model_v1.dat") >> net;
}

static int run_chips(const std::string& model_dir) {
	anet_type net;
	load_network(model_dir, net);

	const size_t chip_bytes = chip_size * chip_size * 3;
	std::vector<unsigned char> buf(chip_bytes);
	matrix<rgb_pixel> chip(chip_size, chip_size);
	for (long index = 0;; ++index) {
		size_t n = std::fread(buf.data(), 1, chip_bytes, stdin);
		if (n == 0 && std::feof(stdin)) {
			break;
		}
		if (n != chip_bytes) {
			std::fprintf(stderr, "dlibraw: stdin ended inside chip %ld: %zu of %zu bytes\n", index, n,
			             chip_bytes);
			return 1;
		}
		const unsigned char* p = buf.data();
		for (long r = 0; r < chip_size; ++r) {
			for (long c = 0; c < chip_size; ++c, p += 3) {
				chip(r, c) = rgb_pixel(p[0], p[1], p[2]);
			}
		}
		matrix<float, 0, 1> descriptor = net(chip);
		std::string line;
		char num[32];
		for (long i = 0; i < descriptor.size(); ++i) {
			std::snprintf(num, sizeof num, i == 0 ? "%.9g" : " %.9g", descriptor(i));
			line += num;
		}
		std::printf("%s\n", line.c_str());
	}
	return std::fflush(stdout) == 0 ? 0 : 1;
}

static std::string json_string(const std::string& s) {
	std::string out = "\"";
	for (unsigned char ch : s) {
		switch (ch) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\n': out += "\\n"; break;
		case '\r': out += "\\r"; break;
		case '\t': out += "\\t"; break;
		default:
			if (ch < 0x20) {
				char esc[8];
				std::snprintf(esc, sizeof esc, "\\u%04x", ch);
				out += esc;
			} else {
				out += (char)ch;
			}
		}
	}
	return out + "\"";
}

static double median(std::vector<double> v) {
	std::sort(v.begin(), v.end());
	const size_t n = v.size();
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Stage times of one run over one image, in milliseconds.
struct stage_times {
	double decode, detect, landmarks, descriptor, total;
};

static double ms_since(std::chrono::steady_clock::time_point start) {
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

static int run_bench(const std::string& model_dir, const std::vector<std::string>& files, int repeat) {
	frontal_face_detector detector = get_frontal_face_detector();
	shape_predictor predictor;
	deserialize(model_dir + "/shape_predictor_5_face_landmarks.dat") >> predictor;
	anet_type net;
	load_network(model_dir, net);

	int status = 0;
	for (const std::string& file : files) {
		std::vector<stage_times> runs;
		std::vector<rectangle> rects;
		long width = 0, height = 0;
		try {
			for (int run = 0; run < repeat; ++run) {
				stage_times t{};
				const auto start = std::chrono::steady_clock::now();

				auto stage = std::chrono::steady_clock::now();
				matrix<rgb_pixel> img;
				load_image(img, file);
				t.decode = ms_since(stage);

				stage = std::chrono::steady_clock::now();
				rects = detector(img);
				std::sort(rects.begin(), rects.end());
				t.detect = ms_since(stage);

				std::vector<full_object_detection> shapes;
				stage = std::chrono::steady_clock::now();
				for (const rectangle& rect : rects) {
					shapes.push_back(predictor(img, rect));
				}
				t.landmarks = ms_since(stage);

				// Chip extraction is counted with the descriptor, as go-face does both per face.
				stage = std::chrono::steady_clock::now();
				for (const full_object_detection& shape : shapes) {
					matrix<rgb_pixel> chip;
					extract_image_chip(img, get_face_chip_details(shape, chip_size, chip_padding), chip);
					matrix<float, 0, 1> descriptor = net(chip);
					(void)descriptor;
				}
				t.descriptor = ms_since(stage);
				t.total = ms_since(start);

				width = img.nc();
				height = img.nr();
				runs.push_back(t);
			}
		} catch (std::exception& e) {
			std::printf("{\"file\":%s,\"error\":%s}\n", json_string(file).c_str(),
			            json_string(e.what()).c_str());
			std::fflush(stdout);
			status = 1;
			continue;
		}

		auto stage_median = [&runs](double stage_times::*field) {
			std::vector<double> v;
			for (const stage_times& t : runs) {
				v.push_back(t.*field);
			}
			return median(v);
		};
		std::ostringstream out;
		out.setf(std::ios::fixed);
		out.precision(3);
		out << "{\"file\":" << json_string(file) << ",\"width\":" << width << ",\"height\":" << height
		    << ",\"faces\":" << rects.size() << ",\"repeat\":" << repeat
		    << ",\"decode_ms\":" << stage_median(&stage_times::decode)
		    << ",\"detect_ms\":" << stage_median(&stage_times::detect)
		    << ",\"landmarks_ms\":" << stage_median(&stage_times::landmarks)
		    << ",\"descriptor_ms\":" << stage_median(&stage_times::descriptor)
		    << ",\"total_ms\":" << stage_median(&stage_times::total) << ",\"rects\":[";
		for (size_t i = 0; i < rects.size(); ++i) {
			out << (i ? "," : "") << "[" << rects[i].left() << "," << rects[i].top() << ","
			    << rects[i].right() << "," << rects[i].bottom() << "]";
		}
		out << "]}";
		std::printf("%s\n", out.str().c_str());
		std::fflush(stdout);
	}
	return status;
}

int main(int argc, char** argv) {
	openblas_set_num_threads(1);
	if (argc < 3) {
		usage();
		return 2;
	}
	const std::string mode = argv[1];
	try {
		if (mode == "chips") {
			if (argc != 3) {
				usage();
				return 2;
			}
			return run_chips(argv[2]);
		}
		if (mode == "bench") {
			int repeat = 1;
			int arg = 2;
			if (std::strcmp(argv[arg], "--repeat") == 0) {
				if (argc < arg + 2) {
					usage();
					return 2;
				}
				char* end = nullptr;
				long n = std::strtol(argv[arg + 1], &end, 10);
				if (*end != '\0' || n < 1 || n > 100000) {
					std::fprintf(stderr, "dlibraw: --repeat wants a positive count, got %s\n", argv[arg + 1]);
					return 2;
				}
				repeat = (int)n;
				arg += 2;
			}
			if (argc < arg + 2) {
				usage();
				return 2;
			}
			std::vector<std::string> files(argv + arg + 1, argv + argc);
			return run_bench(argv[arg], files, repeat);
		}
	} catch (std::exception& e) {
		std::fprintf(stderr, "dlibraw: %s\n", e.what());
		return 1;
	}
	usage();
	return 2;
}
