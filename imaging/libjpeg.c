#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "libjpeg.h"

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
} fm_error_mgr;

static void fm_error_exit(j_common_ptr cinfo) {
	fm_error_mgr* err = (fm_error_mgr*)cinfo->err;
	longjmp(err->jump, 1);
}

// Every warning (corrupt data, premature end of data) is fatal: a damaged image is refused
// rather than decoded into grey.
static void fm_emit_message(j_common_ptr cinfo, int level) {
	if (level < 0) {
		fm_error_exit(cinfo);
	}
}

// fm_decode_jpeg decodes data scaled by the smallest n/8 that keeps the longest side at least
// min_side. With pix NULL it only reports the output size in out; otherwise it writes
// out->width*out->height RGBA pixels into pix, which must hold that many.
int fm_decode_jpeg(const unsigned char* data, unsigned long len, int min_side, unsigned char* pix, fm_jpeg* out, char* msg) {
	struct jpeg_decompress_struct cinfo;
	fm_error_mgr jerr;

	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = fm_error_exit;
	jerr.pub.emit_message = fm_emit_message;
	if (setjmp(jerr.jump)) {
		char buf[JMSG_LENGTH_MAX];
		(*cinfo.err->format_message)((j_common_ptr)&cinfo, buf);
		snprintf(msg, FM_JPEG_MSG_LEN, "%s", buf);
		jpeg_destroy_decompress(&cinfo);
		return FM_JPEG_ERROR;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, len);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&cinfo);
		return FM_JPEG_UNSUPPORTED_COLOR;
	}
	unsigned int longest = cinfo.image_width > cinfo.image_height ? cinfo.image_width : cinfo.image_height;
	unsigned int n = 8;
	if (min_side > 0) {
		for (n = 1; n < 8; n++) {
			if ((longest * n + 7) / 8 >= (unsigned int)min_side) {
				break;
			}
		}
	}
	cinfo.scale_num = n;
	cinfo.scale_denom = 8;
	cinfo.out_color_space = JCS_EXT_RGBA;
	jpeg_calc_output_dimensions(&cinfo);
	if (pix == NULL) {
		out->width = cinfo.output_width;
		out->height = cinfo.output_height;
		jpeg_destroy_decompress(&cinfo);
		return FM_JPEG_OK;
	}
	if ((int)cinfo.output_width != out->width || (int)cinfo.output_height != out->height) {
		snprintf(msg, FM_JPEG_MSG_LEN, "output size changed between calls");
		jpeg_destroy_decompress(&cinfo);
		return FM_JPEG_ERROR;
	}
	jpeg_start_decompress(&cinfo);
	size_t stride = (size_t)cinfo.output_width * 4;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = pix + stride * cinfo.output_scanline;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return FM_JPEG_OK;
}

int fm_encode_jpeg(const unsigned char* rgba, int width, int height, int stride, int quality, fm_jpeg_out* out, char* msg) {
	struct jpeg_compress_struct cinfo;
	fm_error_mgr jerr;
	unsigned char* volatile buf = NULL;
	unsigned long size = 0;

	memset(out, 0, sizeof(*out));
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = fm_error_exit;
	if (setjmp(jerr.jump)) {
		char m[JMSG_LENGTH_MAX];
		(*cinfo.err->format_message)((j_common_ptr)&cinfo, m);
		snprintf(msg, FM_JPEG_MSG_LEN, "%s", m);
		jpeg_destroy_compress(&cinfo);
		free(buf);
		return FM_JPEG_ERROR;
	}
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, (unsigned char**)&buf, &size);
	cinfo.image_width = width;
	cinfo.image_height = height;
	cinfo.input_components = 4;
	cinfo.in_color_space = JCS_EXT_RGBA;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW row = (JSAMPROW)(rgba + (size_t)stride * cinfo.next_scanline);
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	out->data = buf;
	out->len = size;
	return FM_JPEG_OK;
}
