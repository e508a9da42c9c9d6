package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime/debug"

	"github.com/facematch/facematch"
)

// commit is the VCS revision when the build recorded none of its own (a git worktree, or a build
// with -buildvcs=false): make build sets it with -ldflags "-X ...cli.commit=REVISION".
var commit string

// buildVersion is what `facematch version` prints.
type buildVersion struct {
	// Version is the module version the binary was built at: a tag, a pseudo-version made from
	// the commit, or (devel).
	Version string `json:"version"`
	// Commit is the VCS revision, "unknown" when the build recorded none (go test, go run of a
	// copy without .git); Modified says the working tree had uncommitted changes.
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	// ContractSHA256 is the sha256 of the openapi.yaml built into the binary: two servers with the
	// same one speak the same contract.
	ContractSHA256 string `json:"contract_sha256"`
	GoVersion      string `json:"go"`
}

// currentVersion reads the build information the Go toolchain records in the binary.
func currentVersion() buildVersion {
	sum := sha256.Sum256(facematch.OpenAPISpec)
	v := buildVersion{Version: "(devel)", Commit: "unknown", ContractSHA256: hex.EncodeToString(sum[:])}
	if commit != "" {
		v.Commit = commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = info.GoVersion
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// version: facematch version (or facematch --version).
func version(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "version")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	return printJSON(c.stdout, currentVersion())
}
