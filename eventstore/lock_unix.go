//go:build unix

package eventstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir for the embedded server's life:
// two processes running a JetStream store in one directory would corrupt
// it, and nats-server does not stop a second one. The lock is the
// kernel's (flock), so a process that dies, even by SIGKILL, releases it.
func lockDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "dojot.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another dojot process runs its NATS there; stop it, or give this one -nats-url pointing at that one's -nats-listen", ErrDataDirInUse)
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
