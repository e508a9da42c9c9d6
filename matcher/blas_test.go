package matcher

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestBetterBLASCore(t *testing.T) {
	avx512 := cpuFeatures{avx512: true, avx2: true}
	avx2 := cpuFeatures{avx2: true}
	for _, c := range []struct {
		current string
		cpu     cpuFeatures
		want    string
	}{
		{"Prescott", avx512, "SkylakeX"},
		{"Prescott", avx2, "Haswell"},
		{"Nehalem", avx2, "Haswell"},
		{"Prescott", cpuFeatures{}, ""}, // an old CPU keeps what OpenBLAS chose
		{"Haswell", avx512, ""},         // a known CPU keeps its kernels
		{"SkylakeX", avx512, ""},
		{"Zen", avx2, ""},
	} {
		if got := betterBLASCore(c.current, c.cpu); got != c.want {
			t.Errorf("betterBLASCore(%q, %+v) = %q, want %q", c.current, c.cpu, got, c.want)
		}
	}
}

// A program that calls UseFastBLAS computes with the best kernels its CPU allows, even where
// OpenBLAS alone falls back to generic ones; the test runs itself as that program.
func TestUseFastBLAS(t *testing.T) {
	if os.Getenv("FACEMATCH_BLAS_CHILD") != "" {
		UseFastBLAS()
		os.Stdout.WriteString("core=" + BLASCore() + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUseFastBLAS$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, blasCoreEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "FACEMATCH_BLAS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "core=")
	if !ok {
		t.Fatalf("no core in %q", out)
	}
	core, _, _ := strings.Cut(after, "\n")
	if better := betterBLASCore(core, hostFeatures()); better != "" {
		t.Fatalf("computing with %s where the CPU allows %s", core, better)
	}
	t.Logf("OpenBLAS kernels: %s (this process: %s)", core, BLASCore())
}
