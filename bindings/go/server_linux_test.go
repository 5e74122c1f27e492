//go:build linux

package tokenforge_test

import (
	"os/exec"
	"runtime"
	"syscall"
)

// On Linux the test server is killed when the test process dies, even by a signal that
// skips TestMain's cleanup. Pdeathsig follows the OS thread that started the child, so that
// thread is kept for the life of the process.
func init() {
	configureServer = func(cmd *exec.Cmd) {
		runtime.LockOSThread()
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
}
