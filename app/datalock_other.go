//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package app

import "os"

func tryLock(*os.File) (bool, error) { return false, errLockUnsupported }

func unlock(*os.File) error { return nil }
