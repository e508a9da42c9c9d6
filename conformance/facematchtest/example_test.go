package facematchtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"

	"github.com/facematch/facematch/conformance/facematchtest"
)

// An SDK's test starts the server in sandbox mode and calls POST /v3/face-match/ with the
// sandbox key: the answer is the API's fixed Approved payload, after the real validation.
func Example() {
	if err := compareInSandbox(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output: 200 Approved user-123
}

func compareInSandbox(ctx context.Context) error {
	ctr, err := facematchtest.Run(ctx, "") // $FACEMATCH_IMAGE, else facematch:dev
	if ctr != nil {
		defer ctr.Terminate(ctx)
	}
	if err != nil {
		return err
	}
	baseURL, err := ctr.BaseURL(ctx)
	if err != nil {
		return err
	}

	// Any small image passes validation: a sandbox key never decodes the pixels.
	white := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range white.Pix {
		white.Pix[i] = 0xff
	}
	var img bytes.Buffer
	png.Encode(&img, white)
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	for _, field := range []string{"user_image", "ref_image"} {
		part, _ := form.CreateFormFile(field, field+".png")
		part.Write(img.Bytes())
	}
	form.WriteField("vendor_data", "user-123")
	form.Close()

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v3/face-match/", &body)
	req.Header.Set("x-api-key", ctr.SandboxKey())
	req.Header.Set("Content-Type", form.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var answer struct {
		FaceMatch struct {
			Status string `json:"status"`
		} `json:"face_match"`
		VendorData string `json:"vendor_data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		return err
	}
	fmt.Println(res.StatusCode, answer.FaceMatch.Status, answer.VendorData)
	return nil
}
