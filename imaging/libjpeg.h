// The libjpeg-turbo decoder behind decodeJPEGScaled.
#include <stddef.h>

#define FM_JPEG_OK 0
#define FM_JPEG_ERROR 1
#define FM_JPEG_UNSUPPORTED_COLOR 2
#define FM_JPEG_MSG_LEN 200

typedef struct {
	int width, height;
} fm_jpeg;

int fm_decode_jpeg(const unsigned char* data, unsigned long len, int min_side, unsigned char* pix, fm_jpeg* out, char* msg);

typedef struct {
	unsigned char* data; // malloc'ed
	unsigned long len;
} fm_jpeg_out;

int fm_encode_jpeg(const unsigned char* rgba, int width, int height, int stride, int quality, fm_jpeg_out* out, char* msg);
