// Package benchseed creates the tenant the benchmark programs load a server with, through the
// facematch binary's admin commands, as an operator would.
package benchseed

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
)

// Seed creates an organization holding credits, with a live and a sandbox application and a key
// each, by running bin's admin commands with flags (the store's: --data, --database-url)
// appended to each; it returns the two keys.
func Seed(bin string, credits int64, flags ...string) (live, sandbox string, err error) {
	cli := func(args ...string) (map[string]any, error) {
		out, err := exec.Command(bin, append(args, flags...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("%v: %w", args, err)
		}
		var m map[string]any
		return m, json.Unmarshal(out, &m)
	}
	org, err := cli("org", "create", "--name", "bench", "--credits", strconv.FormatInt(credits, 10))
	if err != nil {
		return "", "", err
	}
	for _, mode := range []string{"live", "sandbox"} {
		args := []string{"app", "create", "--org", org["id"].(string), "--name", mode}
		if mode == "sandbox" {
			args = append(args, "--sandbox")
		}
		app, err := cli(args...)
		if err != nil {
			return "", "", err
		}
		k, err := cli("key", "create", "--app", app["id"].(string))
		if err != nil {
			return "", "", err
		}
		if mode == "live" {
			live = k["key"].(string)
		} else {
			sandbox = k["key"].(string)
		}
	}
	return live, sandbox, nil
}
