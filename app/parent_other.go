//go:build !linux

package app

// stopWithParent is a no-op where the kernel cannot signal a child when its
// parent exits; stop the demo with Ctrl-C (SIGINT to the process group).
func stopWithParent() {}
