package app

import (
	"os"
	"syscall"
)

// stopWithParent asks the kernel to send this process SIGTERM when its
// parent exits. `go run` neither forwards signals to the program it starts
// nor stops it when it is itself terminated, so without this a SIGTERM to
// `go run . demo` would leave the demo running, orphaned, holding its port
// and data directory. SIGTERM then takes the normal graceful path.
func stopWithParent() {
	const prSetPdeathsig = 1 // PR_SET_PDEATHSIG from <linux/prctl.h>
	ppid := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return
	}
	// The parent may have exited before the request took effect.
	if os.Getppid() != ppid {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
