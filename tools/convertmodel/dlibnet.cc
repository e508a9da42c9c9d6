// Builds go-face's anet_type (dlib's face-recognition ResNet), fills it with converted
// parameters and serializes it with the dlib headers and library installed on this machine.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <dlib/dnn.h>

#include "dlibnet.h"

namespace facematch_convertmodel {

using namespace dlib;

// The network type below is copied from go-face's facerec.cc (itself dlib's
// dnn_face_recognition_ex.cpp): the serialization must match it layer for layer.

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

template <typename T> struct is_con : std::false_type {};
template <long F, long R, long C, int SY, int SX, int PY, int PX>
struct is_con<con_<F, R, C, SY, SX, PY, PX>> : std::true_type {};

template <typename T> struct is_fc : std::false_type {};
template <unsigned long N, fc_bias_mode M>
struct is_fc<fc_<N, M>> : std::true_type {};

// A layer that holds parameters, as found by walking the network.
struct param_layer {
	int kind;
	tensor* params;       // con_ and fc_: the layer's whole parameter tensor
	affine_* affine;      // affine_: gamma and beta are reached through the layer itself
	long num_filters;     // con_
	long nr, nc, stride;  // con_
	long num_outputs;     // fc_
};

static std::string kind_name(int kind) {
	switch (kind) {
	case BLOCK_CON: return "con_";
	case BLOCK_AFFINE: return "affine_";
	case BLOCK_FC: return "fc_";
	}
	return "unknown";
}

// build returns an empty string and sets serialized on success, or a description of what
// does not fit.
static std::string build(const float* values, const int* kinds, const long* dims,
                         const size_t* lens, size_t count, std::string& serialized) {
	anet_type net;

	// A default-constructed affine_ is in FC mode (one gamma per element); dlib's
	// network uses CONV mode (one gamma per channel). Set it before setup sizes gamma.
	visit_computational_layers(net, [](auto& l) {
		if constexpr (std::is_same_v<std::decay_t<decltype(l)>, affine_>) {
			l = affine_(CONV_MODE);
		}
	});

	// One forward pass runs every layer's setup(): parameter tensors get their sizes and
	// this_layer_setup_called becomes true, so a loaded network does not re-initialize
	// them. The random initial values are all overwritten below.
	matrix<rgb_pixel> blank(150, 150);
	assign_all_pixels(blank, rgb_pixel(0, 0, 0));
	net(blank);

	// Visitors walk from the output to the input; the blocks come from the input.
	std::vector<param_layer> layers;
	visit_computational_layers(net, [&layers](auto& l) {
		using L = std::decay_t<decltype(l)>;
		if constexpr (std::is_same_v<L, affine_>) {
			layers.push_back({BLOCK_AFFINE, nullptr, &l, 0, 0, 0, 0, 0});
		} else if constexpr (is_con<L>::value) {
			layers.push_back({BLOCK_CON, &l.get_layer_params(), nullptr, l.num_filters(),
			                  l.nr(), l.nc(), l.stride_y(), 0});
		} else if constexpr (is_fc<L>::value) {
			layers.push_back({BLOCK_FC, &l.get_layer_params(), nullptr, 0, 0, 0, 0,
			                  (long)l.get_num_outputs()});
		}
	});
	std::reverse(layers.begin(), layers.end());

	if (layers.size() != count) {
		std::ostringstream msg;
		msg << "the dlib network has " << layers.size() << " layers with parameters, the converter gave "
		    << count << " blocks";
		return msg.str();
	}

	size_t offset = 0;
	for (size_t i = 0; i < count; ++i) {
		const param_layer& layer = layers[i];
		const long* d = dims + i * BLOCK_DIMS;
		const float* src = values + offset;
		const size_t len = lens[i];
		offset += len;
		std::ostringstream where;
		where << "parameter layer " << i << " from the input (" << kind_name(layer.kind) << ")";
		if (kinds[i] != layer.kind) {
			return where.str() + ": the converter gave a " + kind_name(kinds[i]) + " block";
		}
		switch (layer.kind) {
		case BLOCK_CON: {
			const long out = d[0], in = d[1], h = d[2], w = d[3], stride = d[4];
			if (layer.num_filters != out || layer.nr != h || layer.nc != w || layer.stride != stride) {
				std::ostringstream msg;
				msg << where.str() << ": dlib has " << layer.num_filters << " filters of "
				    << layer.nr << "x" << layer.nc << " with stride " << layer.stride
				    << ", the block has " << out << " of " << h << "x" << w << " with stride " << stride;
				return msg.str();
			}
			const size_t want = (size_t)(out * in * h * w + out);
			if (layer.params->size() != want || len != want) {
				std::ostringstream msg;
				msg << where.str() << ": dlib holds " << layer.params->size()
				    << " parameters, the block " << len << ", expected " << want;
				return msg.str();
			}
			std::memcpy(layer.params->host(), src, len * sizeof(float));
			break;
		}
		case BLOCK_AFFINE: {
			// affine_'s gamma and beta live outside get_layer_params(), which is empty.
			if (layer.affine->get_mode() != CONV_MODE) {
				return where.str() + ": not in CONV mode";
			}
			auto gamma = layer.affine->get_gamma();
			auto beta = layer.affine->get_beta();
			const size_t channels = (size_t)d[0];
			if (gamma.size() != channels || beta.size() != channels || len != 2 * channels) {
				std::ostringstream msg;
				msg << where.str() << ": dlib has " << gamma.size() << " channels, the block "
				    << channels << " (" << len << " values)";
				return msg.str();
			}
			std::memcpy(gamma.host(), src, channels * sizeof(float));
			std::memcpy(beta.host(), src + channels, channels * sizeof(float));
			break;
		}
		case BLOCK_FC: {
			const long in = d[0], out = d[1];
			if (layer.num_outputs != out || layer.params->num_samples() != in ||
			    layer.params->k() != out || len != layer.params->size()) {
				std::ostringstream msg;
				msg << where.str() << ": dlib holds " << layer.params->num_samples() << "x"
				    << layer.params->k() << " weights, the block is " << in << "x" << out
				    << " (" << len << " values)";
				return msg.str();
			}
			std::memcpy(layer.params->host(), src, len * sizeof(float));
			break;
		}
		}
	}

	// Drop the outputs and gradients of the set-up pass so they are not serialized.
	net.clean();
	std::ostringstream out;
	serialize(net, out);
	serialized = out.str();
	return "";
}

}  // namespace facematch_convertmodel

extern "C" serialized_net serialize_recognition_net(const float* values, const int* kinds,
                                                    const long* dims, const size_t* lens,
                                                    size_t count) {
	serialized_net result = {nullptr, 0, nullptr};
	try {
		std::string out;
		std::string err = facematch_convertmodel::build(values, kinds, dims, lens, count, out);
		if (!err.empty()) {
			result.err = strdup(err.c_str());
			return result;
		}
		result.len = out.size();
		result.bytes = (unsigned char*)std::malloc(result.len);
		if (result.bytes == nullptr) {
			result.err = strdup("out of memory");
			return result;
		}
		std::memcpy(result.bytes, out.data(), result.len);
	} catch (std::exception& e) {
		result.err = strdup(e.what());
	}
	return result;
}

extern "C" void free_serialized_net(serialized_net* net) {
	std::free(net->bytes);
	std::free(net->err);
	net->bytes = nullptr;
	net->err = nullptr;
}
