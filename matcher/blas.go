package matcher

// extern char* openblas_get_corename(void);
import "C"

import (
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/cpu"
)

// blasCoreEnv is the variable OpenBLAS reads, once, when the program is loaded.
const blasCoreEnv = "OPENBLAS_CORETYPE"

// BLASCore is the name of the kernels OpenBLAS computes with in this process.
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// genericCores are the kernels OpenBLAS falls back to for a CPU it does not know: a model
// number newer than the library, or one a virtual machine hides, gets SSE3 code.
var genericCores = map[string]bool{"prescott": true, "core2": true, "penryn": true, "dunnington": true, "nehalem": true, "atom": true}

// betterBLASCore names the kernels to ask for when OpenBLAS chose generic ones although the CPU
// has AVX2 and FMA, or AVX-512; "" when its choice stands.
func betterBLASCore(current string, x86 cpuFeatures) string {
	if !genericCores[strings.ToLower(current)] {
		return ""
	}
	switch {
	case x86.avx512:
		return "SkylakeX"
	case x86.avx2:
		return "Haswell"
	}
	return ""
}

// cpuFeatures are the instruction sets the choice of kernels depends on, as the OS enables them.
type cpuFeatures struct{ avx512, avx2 bool }

func hostFeatures() cpuFeatures {
	return cpuFeatures{
		avx512: cpu.X86.HasAVX512F && cpu.X86.HasAVX512CD && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL,
		avx2:   cpu.X86.HasAVX2 && cpu.X86.HasFMA,
	}
}

// UseFastBLAS makes the process compute with the OpenBLAS kernels its CPU allows. OpenBLAS picks
// them from the CPU's model number when the program is loaded, before main runs; Debian 12's
// OpenBLAS 0.3.21 does not know Sapphire Rapids and gives it its generic SSE3 kernels, with which
// the face descriptor takes 34 ms instead of 17. In that case, when OPENBLAS_CORETYPE is not set,
// it runs the program again in place (same process id, arguments and open files) with
// OPENBLAS_CORETYPE naming the kernels of the CPU's instruction sets. Programs that link the
// matcher call it first thing in main; it returns when nothing needs doing or exec failed, and
// the program then runs, slower, with what OpenBLAS chose. The variable is inherited by child
// processes, so a baseline run as one (bin/dlibraw) computes with the same kernels.
func UseFastBLAS() {
	if runtime.GOARCH != "amd64" || os.Getenv(blasCoreEnv) != "" {
		return
	}
	core := betterBLASCore(BLASCore(), hostFeatures())
	if core == "" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	syscall.Exec(exe, os.Args, append(os.Environ(), blasCoreEnv+"="+core))
}
