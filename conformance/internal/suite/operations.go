package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
	"github.com/facematch/facematch/conformance/internal/target"
)

// areaOperations labels the specs of running the server (section 6 of the contract).
const areaOperations = "operations"

var _ = Describe("Operations", Label(areaOperations), func() {
	It("finishes a request in flight when stopped with SIGTERM, answering it in full", Label("FM-OPS-1", labelDisruptive), func() {
		s := startServer(target.MainFlags...)
		k := tenantOn(s, 5)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range []struct {
			name string
			f    fixtures.File
		}{{"user_image", photo(fixtures.PersonA1)}, {"ref_image", photo(fixtures.PersonA2)}} {
			w, err := mw.CreateFormFile(p.name, p.f.Name)
			Expect(err).NotTo(HaveOccurred())
			w.Write(p.f.Data)
		}
		mw.WriteField("save_api_request", "false")
		Expect(mw.Close()).To(Succeed())
		body := buf.Bytes()

		// The request goes out in two halves: the second only once the server is stopping.
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, s.BaseURL()+"/v3/face-match/", pr)
		Expect(err).NotTo(HaveOccurred())
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("x-api-key", k.Value)
		type answer struct {
			res  *http.Response
			body []byte
			err  error
		}
		answered := make(chan answer, 1)
		go func() {
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
			res, err := client.Do(req)
			a := answer{res: res, err: err}
			if err == nil {
				a.body, a.err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			answered <- a
		}()
		half := len(body) / 2
		_, err = pw.Write(body[:half])
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(200 * time.Millisecond) // let the server read the headers: the request is in flight

		var restartErr error
		restarted := make(chan struct{})
		go func() { // SIGTERM, then start again
			defer close(restarted)
			restartErr = s.Restart(context.Background(), false)
		}()
		// However the spec ends, the restart finishes before the server is stopped for good.
		DeferCleanup(func() { <-restarted })
		By("waiting for the server to stop accepting connections")
		probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		refused := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			res, err := probe.Get(s.BaseURL() + "/healthz")
			if err != nil {
				refused = true
				break
			}
			res.Body.Close()
		}
		_, werr := pw.Write(body[half:])
		pw.Close()
		a := <-answered
		Expect(refused).To(BeTrue(), "FM-OPS-1: the server still accepted connections 20 s after SIGTERM")
		Expect(werr).NotTo(HaveOccurred(), "FM-OPS-1: the server dropped the request in flight on SIGTERM")
		Expect(a.err).NotTo(HaveOccurred(), "FM-OPS-1: the request in flight got no answer after SIGTERM")
		Expect(a.res.StatusCode).To(Equal(http.StatusOK), "FM-OPS-1: the request in flight on SIGTERM answered %d: %s", a.res.StatusCode, a.body)
		var fm FaceMatchBody
		Expect(json.Unmarshal(a.body, &fm)).To(Succeed(), "the answer is cut short: %s", a.body)
		Expect(fm.FaceMatch.Status).To(Equal("Approved"), "the answer: %s", a.body)
		<-restarted
		Expect(restartErr).To(Succeed())
	})
})
