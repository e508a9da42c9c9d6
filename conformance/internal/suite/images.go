package suite

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// white is a blank image: no face.
func white(w, h int) image.Image { return fixtures.Canvas(w, h, color.White) }

// expectFieldError checks a 400 whose body has a non-empty list of messages under each field.
func expectFieldError(r Resp, fields ...string) map[string]any {
	GinkgoHelper()
	Expect(r.Status).To(Equal(http.StatusBadRequest), "body %s", r.Body)
	m := r.Map()
	for _, f := range fields {
		Expect(m).To(HaveKey(f), "the 400 does not name %s: %s", f, r.Body)
		msgs, ok := m[f].([]any)
		Expect(ok).To(BeTrue(), "%s: %v is not a list of messages", f, m[f])
		Expect(msgs).NotTo(BeEmpty())
		for _, msg := range msgs {
			Expect(msg).To(BeAssignableToTypeOf(""), "%s: a message is not a string", f)
		}
	}
	return m
}

// a1As is PersonA1 re-encoded in format under name.
func a1As(format, name string) fixtures.File {
	a1 := photo(fixtures.PersonA1)
	return generate(name, func() (fixtures.File, error) {
		img, err := fixtures.Decode(a1)
		if err != nil {
			return fixtures.File{}, err
		}
		return fixtures.Encode(img, format, name)
	})
}

var _ = Describe("Images", Label(areaImages), func() {
	It("accepts JPEG, PNG, WebP and TIFF files under any case of their extension", Label("FM-IMG-1"), func() {
		k := live()
		ref := photo(fixtures.PersonA1)
		for _, f := range []fixtures.File{
			a1As("png", "face.PNG"), a1As("webp", "face.webp"), a1As("tiff", "face.TIFF"), a1As("tiff", "face.tiff"),
			a1As("jpeg", "face.JPEG"), a1As("jpeg", "face.Jpg"),
		} {
			fm := matchOf(faceMatch(k, f, ref, "save_api_request", "false"))
			expectApproved(fm, f.Name+": the same photo in another format")
		}
	})

	It("refuses a file whose extension is not tiff, jpg, jpeg, png or webp with 400 on its field", Label("FM-IMG-1", "FM-VAL-1"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		for _, name := range []string{"face.gif", "face", "face.jpg.exe", "face.bmp", "face.heic", "face.tif"} {
			renamed := a1
			renamed.Name = name
			expectFieldError(faceMatch(k, renamed, a1), "user_image")
			expectFieldError(faceMatch(k, a1, renamed), "ref_image")
		}
	})

	It("refuses content that does not decode as JPEG, PNG, WebP or TIFF", Label("FM-IMG-1"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		var gifData bytes.Buffer
		Expect(gif.Encode(&gifData, white(32, 32), nil)).To(Succeed())
		for _, f := range []fixtures.File{
			{Name: "text.jpg", Data: []byte("this is not an image")},
			{Name: "empty.png", Data: []byte{}},
			{Name: "gif.png", Data: gifData.Bytes()},
			{Name: "truncated.jpg", Data: a1.Data[:20]},
			{Name: "png-as.webp", Data: a1As("png", "x.png").Data[:40]},
		} {
			expectFieldError(faceMatch(k, f, a1), "user_image")
		}
	})

	It("accepts an image of exactly 5 MiB and refuses one of 5 MiB and 1 byte", Label("FM-IMG-1"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		exact := generate("5mib.png", func() (fixtures.File, error) {
			b, err := fixtures.PaddedPNG(white(64, 64), 5<<20)
			return fixtures.File{Name: "5mib.png", Data: b}, err
		})
		over := generate("5mib1.png", func() (fixtures.File, error) {
			b, err := fixtures.PaddedPNG(white(64, 64), 5<<20+1)
			return fixtures.File{Name: "5mib1.png", Data: b}, err
		})
		Expect(exact.Data).To(HaveLen(5242880))
		fm := matchOf(faceMatch(k, exact, a1, "save_api_request", "false"))
		Expect(fm.FaceMatch.Status).To(Equal("Declined"), "a blank image has no face")
		expectFieldError(faceMatch(k, over, a1), "user_image")
		expectFieldError(faceMatch(k, a1, over), "ref_image")
	})

	It("refuses an image of more than 40 megapixels from its header, without decoding it", Label("FM-IMG-2", "FM-VAL-4"), func() {
		bomb := generate("bomb.png", func() (fixtures.File, error) {
			return fixtures.File{Name: "bomb.png", Data: fixtures.PNGBomb(8001, 5000)}, nil
		})
		limit := generate("limit.png", func() (fixtures.File, error) {
			return fixtures.File{Name: "limit.png", Data: fixtures.PNGBomb(8000, 5000)}, nil
		})
		Expect(len(bomb.Data)).To(BeNumerically("<", 100000), "the bomb is a small file")
		a1 := photo(fixtures.PersonA1)
		expectFieldError(faceMatch(live(), bomb, a1), "user_image")
		expectFieldError(faceMatch(live(), a1, bomb), "ref_image")
		// A sandbox key never decodes pixels: a 400 there comes from the header alone.
		expectFieldError(faceMatch(sandbox(), bomb, a1), "user_image")
		Expect(faceMatch(sandbox(), limit, a1).Status).To(Equal(http.StatusOK), "exactly 40 megapixels is allowed")
	})

	It("applies the EXIF orientation before detection, boxes in the upright image's pixels", Label("FM-IMG-3", "FM-RESP-3"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		exif := generate("exif6.jpg", func() (fixtures.File, error) {
			img, err := fixtures.Decode(a1)
			if err != nil {
				return fixtures.File{}, err
			}
			// Pixels stored a quarter turn counter-clockwise, tagged to be shown turned clockwise.
			f, err := fixtures.Encode(fixtures.RotateCCW(img), "jpeg", "exif6.jpg")
			if err != nil {
				return f, err
			}
			f.Data, err = fixtures.WithEXIFOrientation(f.Data, 6)
			return f, err
		})
		fm := matchOf(faceMatch(k, exif, a1, "save_api_request", "false"))
		expectApproved(fm, "the EXIF-oriented copy of the same photo")
		Expect(fm.FaceMatch.User.BestAngle).To(Equal(0), "EXIF orientation is not a rotation of rotate_image")
		Expect(fm.FaceMatch.User.Entities).NotTo(BeEmpty())
		expectSameBox(fm.FaceMatch.User.Entities[0].BBox, fm.FaceMatch.Ref.Entities[0].BBox, 1.5, "the box is not in the oriented image's pixels")
	})

	It("detects faces in a large image, reduced for detection, with boxes in the submitted image's pixels", Label("FM-IMG-3", "FM-RESP-3"), func() {
		k := live()
		a1 := photo(fixtures.PersonA1)
		big := generate("big.jpg", func() (fixtures.File, error) {
			img, err := fixtures.Decode(a1)
			if err != nil {
				return fixtures.File{}, err
			}
			return fixtures.Encode(fixtures.Scale(img, 9), "jpeg", "big.jpg")
		})
		fm := matchOf(faceMatch(k, big, a1, "save_api_request", "false"))
		expectApproved(fm, "the enlarged copy of the same photo")
		ref := fm.FaceMatch.Ref.Entities[0].BBox
		scaled := []int{ref[0] * 9, ref[1] * 9, ref[2] * 9, ref[3] * 9}
		expectSameBox(fm.FaceMatch.User.Entities[0].BBox, scaled, 2, "the box is not in the submitted image's pixels")
	})
})
