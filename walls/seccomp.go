package walls

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// keepDeathSignal installs on the calling thread, which then forks an
// environment's bootstrap, a seccomp filter the environment inherits for
// good: prctl(PR_SET_PDEATHSIG, sig) fails (EPERM) unless sig is SIGKILL,
// so that no process of the environment can undo the signal that ends it
// with the node (its pid 1, the bootstrap, ends its namespace). System
// calls of another architecture (32-bit ones on a 64-bit host, with other
// numbers) kill the process.
func keepDeathSignal() error {
	var arch uint32
	switch runtime.GOARCH {
	case "amd64":
		arch = unix.AUDIT_ARCH_X86_64
	case "arm64":
		arch = unix.AUDIT_ARCH_AARCH64
	default:
		return fmt.Errorf("walls: no seccomp filter for %s", runtime.GOARCH)
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
		// offsets in struct seccomp_data: nr, arch, then the
		// arguments (the low half of each, little-endian)
		nr, archOff, arg0, arg1 = 0, 4, 16, 24
	)
	filter := []unix.SockFilter{
		{Code: ld, K: archOff},
		{Code: jeq, K: arch, Jt: 1},
		{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: ld, K: nr},
		{Code: jeq, K: unix.SYS_PRCTL, Jf: 4},
		{Code: ld, K: arg0},
		{Code: jeq, K: unix.PR_SET_PDEATHSIG, Jf: 2},
		{Code: ld, K: arg1},
		{Code: jeq, K: uint32(unix.SIGKILL), Jf: 1},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// The thread runs as root, which may filter itself without
	// PR_SET_NO_NEW_PRIVS; only this thread is filtered (no TSYNC).
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("walls: seccomp filter: %w", err)
	}
	runtime.KeepAlive(filter)
	return nil
}
