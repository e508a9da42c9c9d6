package facematchtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/testcontainers/testcontainers-go"

	"github.com/facematch/facematch/conformance/facematchtest"
)

// TestMain runs the example only where it can run: Docker reachable and the image built
// (`make image`). No reaper image can be pulled here, so the example removes its own container.
func TestMain(m *testing.M) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err == nil {
		_, err = cli.ImageInspect(context.Background(), facematchtest.DefaultImage)
		cli.Close()
	}
	if err != nil {
		fmt.Printf("facematchtest: skipping the example: %v (run `make image`)\n", err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
