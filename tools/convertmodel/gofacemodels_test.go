package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	face "github.com/Kagami/go-face"
)

// TestGoFaceLoadsModels loads the folder `make models` builds with go-face itself and
// recognizes real faces with it.
func TestGoFaceLoadsModels(t *testing.T) {
	root := repoRoot(t)
	modelsDir := filepath.Join(root, "models")
	for _, name := range []string{"shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat", "mmod_human_face_detector.dat"} {
		if _, err := os.Stat(filepath.Join(modelsDir, name)); err != nil {
			t.Fatalf("models/%s is missing: run `make models bin/dlibraw` first (%v)", name, err)
		}
	}
	rec, err := face.NewRecognizer(modelsDir)
	if err != nil {
		t.Fatalf("go-face cannot load %s: %v", modelsDir, err)
	}
	defer rec.Close()

	faces := filepath.Join(sharedDir(t), "fixtures", "faces")
	descriptor := func(rel string) face.Descriptor {
		t.Helper()
		f, err := rec.RecognizeSingleFile(filepath.Join(faces, rel))
		if err != nil {
			t.Fatalf("recognize %s: %v", rel, err)
		}
		if f == nil {
			t.Fatalf("go-face found no single face in %s", rel)
		}
		t.Logf("%s: face at %v", rel, f.Rectangle)
		return f.Descriptor
	}
	obama := descriptor("barack_obama/obama.jpg")
	obamaAgain := descriptor("barack_obama/obama1.jpg")
	biden := descriptor("joe_biden/biden2.jpg")

	same := euclideanDistance(obama, obamaAgain)
	other := euclideanDistance(obama, biden)
	t.Logf("distance obama.jpg - obama1.jpg = %.4f, obama.jpg - biden2.jpg = %.4f", same, other)
	if same >= 0.6 || other <= 0.6 {
		t.Errorf("want the same person < 0.6 apart and two people > 0.6 apart")
	}
}

func euclideanDistance(a, b face.Descriptor) float64 {
	return math.Sqrt(face.SquaredEuclideanDistance(a, b))
}
