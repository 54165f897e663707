package app

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// stopWithParent asks the kernel to send this process SIGTERM when its
// parent exits, if that parent is the go command (`go run . demo`). go run
// neither forwards signals to the program it starts nor stops it when it is
// itself terminated, so without this a SIGTERM to `go run . demo` would
// leave the demo running, orphaned, holding its port and data directory.
// Any other parent (a shell, nohup, a supervisor) is left alone: a demo
// started with `nohup ./sentryhub demo &` must outlive the shell.
func stopWithParent() {
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return
	}
	const prSetPdeathsig = 1 // PR_SET_PDEATHSIG from <linux/prctl.h>
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return
	}
	// The parent may have exited before the request took effect.
	if os.Getppid() != ppid {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
