// Command convertmodel converts the TensorFlow.js export of dlib's face-recognition ResNet
// (face-api.js's face_recognition_model) into dlib's own serialization,
// dlib_face_recognition_resnet_model_v1.dat, which go-face loads.
//
// Usage:
//
//	convertmodel --manifest face_recognition_model-weights_manifest.json \
//	    --weights face_recognition_model.bin --out models/dlib_face_recognition_resnet_model_v1.dat
//
// The output is byte-identical on every run for the same inputs and dlib version.
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/facematch/facematch/internal/progress"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "convertmodel: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("convertmodel", flag.ContinueOnError)
	flags.SetOutput(stderr)
	manifestPath := flags.String("manifest", "", "TensorFlow.js weights manifest (face_recognition_model-weights_manifest.json)")
	weightsPath := flags.String("weights", "", "TensorFlow.js weights file the manifest describes (face_recognition_model.bin)")
	outPath := flags.String("out", "", "dlib model file to write (dlib_face_recognition_resnet_model_v1.dat)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if *manifestPath == "" || *weightsPath == "" || *outPath == "" {
		return errors.New("--manifest, --weights and --out are all required")
	}

	start := time.Now()
	// Progress goes to stderr: a bar on a terminal, a line per 10% in make's log.
	bar := progress.New(stderr, "conversion steps", len(recognitionConvUnits())+2, progress.IsTerminal(stderr))
	model, err := convertRecognitionModel(*manifestPath, *weightsPath, func() { bar.Add(1) })
	if err != nil {
		return err
	}
	bar.Finish()
	if err := writeFileAtomically(*outPath, model); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "convertmodel: wrote %s (%d bytes, sha256 %x) in %.1fs\n",
		*outPath, len(model), sha256.Sum256(model), time.Since(start).Seconds())
	return nil
}

// convertRecognitionModel reads the TensorFlow.js tensors and returns the bytes of the
// equivalent dlib model file. step is called after each of its steps: reading the tensors, each
// convolution unit, and dlib's serialization.
func convertRecognitionModel(manifestPath, weightsPath string, step func()) ([]byte, error) {
	tensors, err := readTensors(manifestPath, weightsPath)
	if err != nil {
		return nil, err
	}
	step()
	blocks, err := dlibParameterBlocks(tensors, manifestPath, step)
	if err != nil {
		return nil, err
	}
	model, err := serializeRecognitionNet(blocks)
	if err != nil {
		return nil, err
	}
	step()
	return model, nil
}

// writeFileAtomically writes data to a temporary file next to path and renames it into
// place, so an interrupted run never leaves a partial model behind.
func writeFileAtomically(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
