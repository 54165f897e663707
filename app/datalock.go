package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFileName is the file in the data directory that serve, demo and
// rotate-key hold an exclusive lock on while they run.
const lockFileName = "sentryhub.lock"

// DataDirBusyError says another process holds the data directory's lock.
type DataDirBusyError struct {
	Dir string
	PID string // as the holder wrote it; may be empty
}

func (e *DataDirBusyError) Error() string {
	holder := "another sentryhub process (serve or demo)"
	if e.PID != "" {
		holder += " with pid " + e.PID
	}
	return fmt.Sprintf("data directory %s is in use by %s; stop it first, or point SENTRY_DATA_DIR (--data-dir) at another directory", e.Dir, holder)
}

// errLockUnsupported is returned where the platform has no advisory file
// locks; the command then runs without the guard.
var errLockUnsupported = errors.New("file locks are not supported on this platform")

// dataDirLock is a held lock on a data directory. The kernel drops it when
// the process exits, however it exits, so a crash never leaves a stale lock.
type dataDirLock struct {
	f *os.File
}

// lockDataDir takes the exclusive lock of dir without waiting: a second
// serve, demo or rotate-key on the same directory fails at once, before it
// has changed anything.
func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data directory lock %s: %w", path, err)
	}
	held, err := tryLock(f)
	switch {
	case errors.Is(err, errLockUnsupported):
		return &dataDirLock{f: f}, nil
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	case held:
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		return nil, &DataDirBusyError{Dir: dir, PID: strings.TrimSpace(string(b[:n]))}
	}
	// The pid is for the message a second process prints; the lock is the
	// flock, not the file's content.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// release drops the lock. The file stays: removing it would race with a
// process that opened it and is about to lock it.
func (l *dataDirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = unlock(l.f)
	_ = l.f.Close()
	l.f = nil
}
