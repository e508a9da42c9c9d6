package server_test

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/cli"
	"github.com/facematch/facematch/internal/shared"
	"github.com/facematch/facematch/internal/testimg"
)

// Hostile inputs over real HTTP: each gets a clear 4xx (a FM-VAL-1 body where it is a 400), no
// credit is consumed, the server keeps serving (a normal call succeeds right after), and the
// memory the process takes stays bounded: the peak resident memory during each group of
// requests is measured and compared with a bound stated in docs/reliability.md.

// memProbe measures the resident memory of this process (server and client alike) over a span:
// its growth at the peak and at the end.
type memProbe struct {
	before int64
}

func startMemProbe(t *testing.T) memProbe {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets VmHWM, the peak resident memory, to the current one. A
	// probe that cannot reset it cannot measure a peak: that fails the test, rather than
	// quietly checking the memory at the end instead.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak resident memory (VmHWM): %v", err)
	}
	return memProbe{before: rssBytes(t)}
}

// check fails the test when the peak resident memory grew by more than limit since the probe
// started.
func (p memProbe) check(t *testing.T, what string, limit int64) {
	t.Helper()
	after := rssBytes(t)
	peak := max(after, vmHWM(t))
	t.Logf("%s: resident memory %d MB before, peak %d MB (+%d MB), %d MB after (bound +%d MB)",
		what, p.before>>20, peak>>20, (peak-p.before)>>20, after>>20, limit>>20)
	if peak-p.before > limit {
		t.Fatalf("%s: resident memory grew by %d MB at its peak, bound %d MB", what, (peak-p.before)>>20, limit>>20)
	}
}

// vmHWM is the peak resident memory of this process since the last reset; a test that cannot
// read it fails.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("cannot read the peak resident memory: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("/proc/self/status has no VmHWM line: the peak resident memory cannot be measured")
	return 0
}

// stillServing makes a normal live call and checks it is answered 200.
func (e *env) stillServing(t *testing.T, key string) {
	t.Helper()
	r := e.faceMatch(key, photo(t, "barack_obama/obama_small.jpg"), photo(t, "barack_obama/obama-240p.jpg"), "save_api_request", "false")
	wantStatus(t, r, http.StatusOK)
}

// wantFieldMessage checks a 400 body of FM-VAL-1 with exactly the given fields, each with a
// message containing the given text.
func wantFieldMessage(t *testing.T, r response, want map[string]string) {
	t.Helper()
	m := fieldErrors(t, r)
	if len(m) != len(want) {
		t.Fatalf("fields %v, want %v", m, want)
	}
	for f, sub := range want {
		if len(m[f]) == 0 || !strings.Contains(strings.Join(m[f], " "), sub) {
			t.Fatalf("%s: %v, want a message with %q", f, m[f], sub)
		}
	}
}

// jpegBomb is a small JPEG whose frame header (baseline, sof 0xC0, or progressive, 0xC2)
// declares w x h pixels.
func jpegBomb(sof byte, w, h uint16) []byte {
	var buf bytes.Buffer
	jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil)
	b := buf.Bytes()
	for i := 2; i+9 < len(b); i += 2 + int(binary.BigEndian.Uint16(b[i+2:])) {
		if b[i+1] == 0xC0 {
			b[i+1] = sof
			binary.BigEndian.PutUint16(b[i+5:], h)
			binary.BigEndian.PutUint16(b[i+7:], w)
			break
		}
	}
	return b
}

// riff wraps chunks in a WebP container.
func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
		if len(c)%2 == 1 {
			body = append(body, 0)
		}
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

func riffChunk(fourcc string, data []byte) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte(fourcc), uint32(len(data))), data...)
}

// webpLosslessBomb is a VP8L bitstream declaring w x h pixels (at most 16384 each) followed by
// a few kilobytes of zeros.
func webpLosslessBomb(w, h int) []byte {
	data := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, uint32(w-1)|uint32(h-1)<<14)...)
	return riff(riffChunk("VP8L", append(data, make([]byte, 4096)...)))
}

// webpExtendedBomb is a VP8X container whose canvas is w x h (at most 2^24 each) around a
// 1x1 lossless frame.
func webpExtendedBomb(w, h int) []byte {
	vp8x := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	frame := append([]byte{0x2f}, make([]byte, 68)...)
	return riff(riffChunk("VP8X", vp8x), riffChunk("VP8L", frame))
}

// tiffBomb is a w x h 8-bit grayscale TIFF whose one strip is a deflate stream of zeros: about a
// kilobyte that would inflate to w*h bytes.
func tiffBomb(w, h uint32) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	strip := z.Bytes()
	const dataAt = 8
	ifdAt := uint32(dataAt+len(strip)+1) &^ 1
	entries := [][3]uint32{ // tag, type (3 SHORT, 4 LONG), value
		{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 8}, {262, 3, 1},
		{273, 4, dataAt}, {277, 3, 1}, {278, 4, h}, {279, 4, uint32(len(strip))},
	}
	out := binary.LittleEndian.AppendUint32([]byte("II*\x00"), ifdAt)
	out = append(out, strip...)
	for uint32(len(out)) < ifdAt {
		out = append(out, 0)
	}
	out = binary.LittleEndian.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = binary.LittleEndian.AppendUint16(out, uint16(e[0]))
		out = binary.LittleEndian.AppendUint16(out, uint16(e[1]))
		out = binary.LittleEndian.AppendUint32(out, 1)
		if e[1] == 3 {
			out = binary.LittleEndian.AppendUint16(out, uint16(e[2]))
			out = append(out, 0, 0)
		} else {
			out = binary.LittleEndian.AppendUint32(out, e[2])
		}
	}
	return binary.LittleEndian.AppendUint32(out, 0)
}

// [FM-IMG-2] Decompression bombs in every format, each a few kilobytes declaring hundreds of
// megapixels to billions: refused from the header on live and sandbox keys alike, not billed,
// and the process's memory does not move.
func TestHostileDecompressionBombs(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	bombs := []struct {
		name, file string
		data       []byte
		dims       string
	}{
		{"PNG, 20000x20000 deflate", "bomb.png", testimg.PNGBomb(20000, 20000), "20000x20000"},
		{"baseline JPEG, 60000x60000 SOF0", "bomb.jpg", jpegBomb(0xC0, 60000, 60000), "60000x60000"},
		{"progressive JPEG, 65500x65500 SOF2", "bomb.jpeg", jpegBomb(0xC2, 65500, 65500), "65500x65500"},
		{"lossless WebP, 16384x16384 VP8L", "bomb.webp", webpLosslessBomb(16384, 16384), "16384x16384"},
		{"extended WebP, 20000x20000 VP8X canvas", "bomb.webp", webpExtendedBomb(20000, 20000), "20000x20000"},
		{"TIFF, 100000x100000 deflate strip", "bomb.tiff", tiffBomb(100000, 100000), "100000x100000"},
	}
	ref := photo(t, "barack_obama/obama-240p.jpg")
	probe := startMemProbe(t)
	for _, b := range bombs {
		for _, key := range []string{live.key, sandbox.key} {
			for range 3 {
				r := e.faceMatch(key, file{name: b.file, data: b.data}, ref)
				wantFieldMessage(t, r, map[string]string{"user_image": "Image too large: " + b.dims})
			}
		}
		t.Logf("%s: %d bytes, refused", b.name, len(b.data))
	}
	probe.check(t, "36 bomb requests", 32<<20)
	if c := e.credits(live.org.ID); c != 10 {
		t.Fatalf("balance %d, want 10", c)
	}
	e.stillServing(t, live.key)
}

// Within the 40-megapixel cap a file can still be small and expand a lot: a 16-bit RGBA PNG of
// 40 MP is 1.2 MB of zeros and 320 MB of pixels (8 bytes each), the most one decode takes. It is
// a valid image, so a live call decodes it (and bills it: no face, Declined). The peak memory of
// that call is measured: the pixels of one image take at most 8 bytes each at 40 MP.
func TestHostileLargestDecodeWithinCap(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a 40-megapixel image")
	}
	e := newEnv(t, withRealMatcher())
	live := e.tenant(10, facematch.ModeLive)
	bomb := deepPNG(6320, 6320)
	t.Logf("16-bit RGBA PNG 6320x6320 (%.1f MP): %d bytes", 6320*6320/1e6, len(bomb))
	// The matcher's buffers, those of its fallback passes on an image without a face included,
	// are allocated before the probe.
	r := e.faceMatch(live.key, file{name: "deep.png", data: deepPNG(1000, 1000)}, photo(t, "barack_obama/obama-240p.jpg"), "save_api_request", "false")
	wantStatus(t, r, http.StatusOK)
	probe := startMemProbe(t)
	r = e.faceMatch(live.key, file{name: "deep.png", data: bomb}, photo(t, "barack_obama/obama-240p.jpg"), "save_api_request", "false")
	wantStatus(t, r, http.StatusOK)
	if fm := faceMatchOf(t, r).FaceMatch; fm.Status != facematch.StatusDeclined {
		t.Fatalf("%+v", fm)
	}
	// The pixels take 305 MB (measured alone: +307 MB for decoding and reducing); dlib's
	// detector adds its own buffers in C memory, about 170 MB, which the warm-up call above
	// does not always reach (glibc gives each thread its own arena).
	probe.check(t, "one 40 MP 16-bit PNG", 8*40_000_000+224<<20)
}

// deepPNG is a w x h 16-bit RGBA PNG of transparent black, written row by row so that the test
// never holds its pixels.
func deepPNG(w, h int) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 16, 6, 0, 0, 0)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+8*w)
	for range h {
		zw.Write(row)
	}
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, testimg.PNGChunk("IHDR", ihdr)...)
	out = append(out, testimg.PNGChunk("IDAT", z.Bytes())...)
	return append(out, testimg.PNGChunk("IEND", nil)...)
}

// Truncated and corrupt files of every format, made from a real photo: 400 on the image's field
// (from the header, or from the decoder after the credit was reserved and given back), never a
// 5xx, never billed.
func TestHostileTruncatedAndCorrupt(t *testing.T) {
	e := newEnv(t, withRealMatcher())
	live := e.tenant(100, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	src := testimg.Decode(t, photo(t, "barack_obama/obama_small.jpg").data)
	ref := photo(t, "barack_obama/obama-240p.jpg")
	rng := rand.New(rand.NewPCG(1, 2))
	e.stillServing(t, live.key) // the matcher's buffers are allocated before the probe
	credits := e.credits(live.org.ID)
	probe := startMemProbe(t)
	n := 0
	for _, format := range []string{"jpeg", "png", "webp", "tiff"} {
		good := testimg.Encode(t, src, format)
		garbage := append([]byte{}, good...)
		for i := len(good) / 3; i < 2*len(good)/3; i++ {
			garbage[i] = byte(rng.Uint32())
		}
		for _, c := range []struct {
			name string
			data []byte
		}{
			{"header only", good[:64]},
			{"half", good[:len(good)/2]},
			{"all but the last 100 bytes", good[:len(good)-100]},
			{"middle third random", garbage},
		} {
			r := e.faceMatch(live.key, file{name: "u." + format, data: c.data}, ref, "save_api_request", "false")
			if r.status != http.StatusBadRequest {
				t.Errorf("%s, %s: status %d %s", format, c.name, r.status, r.body)
				continue
			}
			wantFieldMessage(t, r, map[string]string{"user_image": "Upload a valid image"})
			// A sandbox key decodes nothing: what the header check lets through is answered 200.
			if rs := e.faceMatch(sandbox.key, file{name: "u." + format, data: c.data}, ref); rs.status != http.StatusOK && rs.status != http.StatusBadRequest {
				t.Errorf("%s, %s: sandbox status %d", format, c.name, rs.status)
			}
			n++
		}
	}
	probe.check(t, fmt.Sprintf("%d broken images", n), 64<<20)
	if c := e.credits(live.org.ID); c != credits {
		t.Fatalf("balance %d, want %d", c, credits)
	}
	e.stillServing(t, live.key)
}

// [FM-IMG-1] The content need not match the extension: a PNG named .jpg and the reverse, a WebP
// named .tiff and a TIFF named .webp are read as what they are and matched, in live and sandbox
// alike. A file of another format under an allowed name is still refused.
func TestHostileRenamedFiles(t *testing.T) {
	e := newEnv(t, withRealMatcher())
	live := e.tenant(10, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	src := testimg.Decode(t, photo(t, "barack_obama/obama_small.jpg").data)
	ref := photo(t, "barack_obama/obama-240p.jpg")
	for _, c := range []struct{ format, name string }{
		{"png", "photo.jpg"}, {"jpeg", "photo.png"}, {"webp", "photo.tiff"}, {"tiff", "photo.webp"},
	} {
		data := testimg.Encode(t, src, c.format)
		r := e.faceMatch(live.key, file{name: c.name, data: data}, ref, "save_api_request", "false")
		wantStatus(t, r, http.StatusOK)
		if fm := faceMatchOf(t, r).FaceMatch; fm.Status != facematch.StatusApproved || len(fm.User.Entities) == 0 {
			t.Fatalf("%s content named %s: %s with %d faces, want Approved", c.format, c.name, fm.Status, len(fm.User.Entities))
		}
		wantStatus(t, e.faceMatch(sandbox.key, file{name: c.name, data: data}, ref), http.StatusOK)
	}
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	wantFieldMessage(t, e.faceMatch(live.key, file{name: "photo.jpg", data: gif}, ref), map[string]string{"user_image": "Upload a valid image"})
	if c := e.credits(live.org.ID); c != 6 {
		t.Fatalf("balance %d, want 6 (four matched calls)", c)
	}
	e.stillServing(t, live.key)
}

// [FM-IMG-3] EXIF orientation values outside 1-8 (0, 9, 65535) are ignored, in a JPEG's APP1
// and a PNG's eXIf alike: the image is matched as stored.
func TestHostileInvalidEXIFOrientation(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(20, facematch.ModeLive)
	user := photo(t, "barack_obama/obama_small.jpg")
	ref := photo(t, "barack_obama/obama-240p.jpg")
	plain := faceMatchOf(t, e.faceMatch(live.key, user, ref, "save_api_request", "false")).FaceMatch
	pngData := testimg.Encode(t, testimg.Decode(t, user.data), "png")
	for _, o := range []uint16{0, 9, 65535} {
		for _, f := range []file{
			{name: "tagged.jpg", data: testimg.WithJPEGOrientation(user.data, o)},
			{name: "tagged.png", data: testimg.WithPNGOrientation(pngData, o)},
		} {
			r := e.faceMatch(live.key, f, ref, "save_api_request", "false")
			wantStatus(t, r, http.StatusOK)
			fm := faceMatchOf(t, r).FaceMatch
			if fm.Status != facematch.StatusApproved || fm.User.Entities[0].BBox != plain.User.Entities[0].BBox {
				t.Fatalf("orientation %d in %s: %s, box %v; untagged %v", o, f.name, fm.Status, fm.User.Entities[0].BBox, plain.User.Entities[0].BBox)
			}
		}
	}
}

// Empty parts: empty files, empty text fields, a part without a name, a form without parts, an
// empty body.
func TestHostileEmptyParts(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	user := photo(t, "barack_obama/obama_small.jpg")
	ref := photo(t, "barack_obama/obama-240p.jpg")
	for _, key := range []string{live.key, sandbox.key} {
		wantFieldMessage(t, e.faceMatch(key, file{name: "u.jpg"}, file{name: "r.jpg"}),
			map[string]string{"user_image": "empty", "ref_image": "empty"})
		// [FM-VAL-5] Optional fields sent blank count as absent: their defaults apply.
		blank := e.faceMatch(key, user, ref,
			"face_match_score_decline_threshold", "", "rotate_image", "", "save_api_request", "", "metadata", "", "vendor_data", "")
		wantStatus(t, blank, http.StatusOK)
		if b := faceMatchOf(t, blank); b.VendorData != nil || string(b.Metadata) != "null" {
			t.Fatalf("blank vendor_data and metadata echoed as %v, %s; want null", b.VendorData, b.Metadata)
		}
		// Nameless parts and parts without any header are ignored; the images are still missing.
		var buf bytes.Buffer
		buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\n")
		wantFieldMessage(t, e.do(e.request(http.MethodPost, "/v3/face-match/", key, &buf, "multipart/form-data; boundary=b")),
			map[string]string{"user_image": "required", "ref_image": "required"})
		r := e.do(e.request(http.MethodPost, "/v3/face-match/", key, strings.NewReader("--b--\r\n"), "multipart/form-data; boundary=b"))
		wantStatus(t, r, http.StatusBadRequest)
		r = e.do(e.request(http.MethodPost, "/v3/face-match/", key, strings.NewReader(""), "multipart/form-data; boundary=b"))
		wantStatus(t, r, http.StatusBadRequest)
		fieldErrors(t, r)
	}
	// The live blank call was saved (save_api_request's default) and billed once.
	if c := e.credits(live.org.ID); c != 9 {
		t.Fatalf("balance %d, want 9", c)
	}
	e.stillServing(t, live.key)
}

// A form of 10,000 parts: the form reader stops at 70 with a clear 400, and the whole body is
// bounded by the body limit anyway.
func TestHostileTenThousandParts(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	user := photo(t, "barack_obama/obama_small.jpg")
	ref := photo(t, "barack_obama/obama-240p.jpg")
	fields := make([]string, 0, 20000)
	for i := range 10000 {
		fields = append(fields, "x"+strconv.Itoa(i), "y")
	}
	probe := startMemProbe(t)
	for _, key := range []string{live.key, e.tenant(0, facematch.ModeSandbox).key} {
		start := time.Now()
		r := e.faceMatch(key, user, ref, fields...)
		wantFieldMessage(t, r, map[string]string{"non_field_errors": "too many parts: at most 70"})
		t.Logf("10,000 parts answered in %v", time.Since(start).Round(time.Millisecond))
		// The same parts all named like a field of the form.
		named := make([]string, 0, 20000)
		for range 10000 {
			named = append(named, "vendor_data", "v")
		}
		wantFieldMessage(t, e.faceMatch(key, user, ref, named...), map[string]string{"non_field_errors": "too many parts"})
	}
	probe.check(t, "10,000-part forms", 64<<20)
	if c := e.credits(live.org.ID); c != 10 {
		t.Fatalf("balance %d, want 10", c)
	}
	e.stillServing(t, live.key)
}

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A 100 MB body, with a Content-Length and chunked: 400 from the body limit after 11.5 MB, the
// connection closed, and never more than the limit held, even with several at once.
func TestHostileHundredMegabyteBody(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const size = 100 << 20
	send := func(chunked bool) (*http.Response, []byte, error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		defer conn.Close()
		head := "POST /v3/face-match/ HTTP/1.1\r\nHost: " + addr + "\r\nx-api-key: " + live.key +
			"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
		if chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		} else {
			head += "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
		}
		go func() {
			// The server stops reading at its limit and closes: this write then fails.
			w := bufio.NewWriterSize(conn, 64<<10)
			w.WriteString(head)
			body := io.LimitReader(zeros{}, size)
			if chunked {
				buf := make([]byte, 32<<10)
				for {
					n, _ := body.Read(buf)
					if n == 0 {
						break
					}
					fmt.Fprintf(w, "%x\r\n", n)
					w.Write(buf[:n])
					if _, err := w.WriteString("\r\n"); err != nil {
						return
					}
				}
				w.WriteString("0\r\n\r\n")
			} else if _, err := io.Copy(w, body); err != nil {
				return
			}
			w.Flush()
		}()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		// After the answer the server closes the connection rather than reading 88 MB more.
		if _, err := br.ReadByte(); err == nil {
			return nil, nil, fmt.Errorf("the connection stayed open after the answer")
		}
		return res, b, nil
	}
	e.stillServing(t, live.key)
	credits := e.credits(live.org.ID)
	probe := startMemProbe(t)
	for _, chunked := range []bool{false, true} {
		start := time.Now()
		res, body, err := send(chunked)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		if res.StatusCode != http.StatusBadRequest || !res.Close {
			t.Fatalf("chunked=%v: status %d, close %v", chunked, res.StatusCode, res.Close)
		}
		wantFieldMessage(t, response{status: res.StatusCode, body: body}, map[string]string{"non_field_errors": "The request body is too large"})
		t.Logf("chunked=%v: 400 in %v", chunked, time.Since(start).Round(time.Millisecond))
	}
	probe.check(t, "two 100 MB bodies", 48<<20)
	// Eight at once. With a Content-Length the body is refused unread; chunked, each is read up
	// to the 11.5 MB limit into a growing buffer (up to 16 MB, and the copies it outgrew).
	for _, chunked := range []bool{false, true} {
		probe := startMemProbe(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, _, err := send(chunked)
				if err == nil && res.StatusCode != http.StatusBadRequest {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if chunked {
			probe.check(t, "eight chunked 100 MB bodies at once", 8*32<<20+32<<20)
		} else {
			probe.check(t, "eight 100 MB bodies with a Content-Length at once", 32<<20)
		}
	}
	if c := e.credits(live.org.ID); c != credits {
		t.Fatalf("balance %d, want %d", c, credits)
	}
	e.stillServing(t, live.key)
}

// Invalid UTF-8 in vendor_data (a stray byte, an overlong encoding, an encoded surrogate) is a
// 400 on that field; a NUL character is valid text and is echoed.
func TestHostileInvalidUTF8VendorData(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	user := photo(t, "barack_obama/obama_small.jpg")
	ref := photo(t, "barack_obama/obama-240p.jpg")
	for _, v := range []string{"user-\xff", "\xc0\xaf", "\xed\xa0\x80", "ok\xe2\x82"} {
		for _, key := range []string{live.key, sandbox.key} {
			wantFieldMessage(t, e.faceMatch(key, user, ref, "vendor_data", v), map[string]string{"vendor_data": "UTF-8"})
		}
	}
	r := e.faceMatch(sandbox.key, user, ref, "vendor_data", "a\x00b")
	wantStatus(t, r, http.StatusOK)
	if got := faceMatchOf(t, r).VendorData; got == nil || *got != "a\x00b" {
		t.Fatalf("vendor_data echoed as %v", got)
	}
	if c := e.credits(live.org.ID); c != 10 {
		t.Fatalf("balance %d, want 10", c)
	}
	e.stillServing(t, live.key)
}

// Deeply nested metadata: 10,000 unclosed arrays are not JSON; 8,000 nested arrays within
// 16 KiB are, but deeper than any client library reads back (Python's json stops near 1,000),
// so both are a 400 on metadata. So is a number a double cannot hold, which the webhook body
// could not carry.
func TestHostileDeepMetadata(t *testing.T) {
	e := newEnv(t)
	live := e.tenant(10, facematch.ModeLive)
	sandbox := e.tenant(0, facematch.ModeSandbox)
	user := photo(t, "barack_obama/obama_small.jpg")
	ref := photo(t, "barack_obama/obama-240p.jpg")
	deep := `{"a":` + strings.Repeat("[", 8000) + strings.Repeat("]", 8000) + `}`
	if len(deep) > 16<<10 {
		t.Fatal(len(deep))
	}
	cases := map[string]string{
		`{"a":` + strings.Repeat("[", 10000): "valid JSON",
		deep:                                 "levels",
		`{"a":` + strings.Repeat(`{"b":`, 100) + "1" + strings.Repeat("}", 100) + "}": "levels",
		`{"a":1e400}`: "out of range",
	}
	probe := startMemProbe(t)
	for metadata, msg := range cases {
		for _, key := range []string{live.key, sandbox.key} {
			wantFieldMessage(t, e.faceMatch(key, user, ref, "metadata", metadata), map[string]string{"metadata": msg})
		}
	}
	probe.check(t, "deep metadata", 32<<20)
	// Nesting a client would use is kept as sent.
	ok := `{"a":` + strings.Repeat("[", 30) + "1" + strings.Repeat("]", 30) + `,"n":12345678901234567890}`
	r := e.faceMatch(sandbox.key, user, ref, "metadata", ok)
	wantStatus(t, r, http.StatusOK)
	if got := faceMatchOf(t, r).Metadata; string(got) != ok {
		t.Fatalf("metadata echoed as %s", got)
	}
	if c := e.credits(live.org.ID); c != 10 {
		t.Fatalf("balance %d, want 10", c)
	}
	e.stillServing(t, live.key)
}

// logAddr collects the JSON log lines of a server started in-process and reports the address
// it listens on.
type logAddr struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	sent bool
}

func (l *logAddr) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		for _, line := range strings.Split(l.buf.String(), "\n") {
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "listening" {
				l.addr <- m.Addr
				l.sent = true
				break
			}
		}
	}
	return len(p), nil
}

// Very long header lines, through the real `serve` (its http.Server sets MaxHeaderBytes to
// 64 KiB): a 100 KiB header, 100 KiB of small headers and a 100 KiB URL are answered 431
// before any handler runs; a 48 KiB header is within the limit; the server keeps serving.
func TestHostileLongHeaderLines(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logAddr{addr: make(chan string, 1)}
	getenv := func(k string) string {
		return map[string]string{"FACEMATCH_MODELS": filepath.Join(shared.RepoRoot(), "models"), "FACEMATCH_SHARED": shared.Dir()}[k]
	}
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"facematch", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--workers", "1"}, getenv, io.Discard, logs)
	}()
	t.Cleanup(func() { cancel(); <-done })
	var base string
	select {
	case a := <-logs.addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	get := func(path string, header http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	probe := startMemProbe(t)
	many := http.Header{}
	for i := range 5000 {
		many.Set(fmt.Sprintf("X-H%d", i), "0123456789")
	}
	for name, c := range map[string]struct {
		path   string
		header http.Header
	}{
		"a 100 KiB header":       {"/v3/session/x/decision/", http.Header{"X-Long": {strings.Repeat("a", 100<<10)}}},
		"5,000 headers":          {"/v3/session/x/decision/", many},
		"a 100 KiB URL":          {"/v3/session/" + strings.Repeat("a", 100<<10) + "/decision/", nil},
		"a 100 KiB x-api-key":    {"/v3/session/x/decision/", http.Header{"X-Api-Key": {strings.Repeat("k", 100<<10)}}},
		"a 200 KiB cookie":       {"/healthz", http.Header{"Cookie": {strings.Repeat("c=1; ", 40<<10)}}},
		"a 100 KiB Content-Type": {"/healthz", http.Header{"Content-Type": {"multipart/form-data; boundary=" + strings.Repeat("b", 100<<10)}}},
	} {
		status, body := get(c.path, c.header)
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %d %.200s, want 431", name, status, body)
		}
	}
	// Just under the limit: handled as usual (403: no valid key).
	if status, _ := get("/v3/session/x/decision/", http.Header{"X-Long": {strings.Repeat("a", 48<<10)}}); status != http.StatusForbidden {
		t.Errorf("a 48 KiB header: %d, want 403", status)
	}
	probe.check(t, "long headers", 32<<20)
	if status, _ := get("/healthz", nil); status != http.StatusOK {
		t.Fatalf("healthz %d after long headers", status)
	}
}
