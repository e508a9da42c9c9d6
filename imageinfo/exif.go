package imageinfo

import (
	"bytes"
	"encoding/binary"
)

// orientation returns the EXIF orientation tag (1-8) carried by data, or 1 when there is none or
// its value is not a valid orientation. It looks where each format keeps EXIF: a JPEG APP1
// segment, a PNG eXIf chunk, a WebP EXIF chunk, or a TIFF file's own first IFD.
func orientation(f Format, data []byte) int {
	var tiffData []byte
	switch f {
	case JPEG:
		tiffData = jpegEXIF(data)
	case PNG:
		tiffData = pngEXIF(data)
	case WebP:
		tiffData = webpEXIF(data)
	case TIFF:
		tiffData = data
	}
	if o := tiffOrientation(tiffData); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

// jpegEXIF returns the TIFF structure of the first EXIF APP1 segment of a JPEG, or nil.
func jpegEXIF(data []byte) []byte {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan or end of image: no EXIF after this
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the content of a PNG's eXIf chunk, or nil. Chunks are walked without CRC
// checks: a bad chunk only means no orientation.
func pngEXIF(data []byte) []byte {
	i := 8
	for i+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 {
			return nil
		}
		if typ == "eXIf" {
			return data[i+8 : i+8+n]
		}
		if typ == "IDAT" || typ == "IEND" {
			return nil
		}
		i += 12 + n
	}
	return nil
}

// webpEXIF returns the content of a WebP's EXIF chunk, with an optional "Exif\0\0" prefix
// removed, or nil.
func webpEXIF(data []byte) []byte {
	i := 12
	for i+8 <= len(data) {
		typ := string(data[i : i+4])
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if typ == "EXIF" {
			return bytes.TrimPrefix(data[i+8:i+8+n], exifHeader)
		}
		i += 8 + n + n&1
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from the first IFD of a TIFF structure, or returns 0.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	count := int64(bo.Uint16(t[off:]))
	for k := int64(0); k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if n != 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT
			return int(bo.Uint16(t[e+8:]))
		case 4: // LONG
			v := bo.Uint32(t[e+8:])
			if v > 8 {
				return 0
			}
			return int(v)
		}
		return 0
	}
	return 0
}
