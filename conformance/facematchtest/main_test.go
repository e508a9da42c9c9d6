package facematchtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/testcontainers/testcontainers-go"

	"github.com/facematch/facematch/conformance/facematchtest"
)

// TestMain checks the example's prerequisites first: Docker reachable and the image built
// (`make image`, or FACEMATCH_IMAGE). A missing one fails the package with its reason: passing
// without having run the example would prove nothing. No reaper image can be pulled here, so the
// example removes its own container.
func TestMain(m *testing.M) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	img := facematchtest.ImageFromEnv()
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL facematchtest: the example needs Docker: %v\n", err)
		os.Exit(1)
	}
	_, err = cli.ImageInspect(context.Background(), img)
	cli.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL facematchtest: the example needs the image %s: %v (run `make image`, or set FACEMATCH_IMAGE)\n", img, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
