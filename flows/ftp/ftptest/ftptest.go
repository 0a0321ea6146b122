// Package ftptest gives tests an FTP server: the one DOJOT_TEST_FTP_URL
// names, or Debian's python3-pyftpdlib started for the test.
package ftptest

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Server returns the URL of an FTP server accepting user "dojot" password
// "dojot" and the directory it writes into: DOJOT_TEST_FTP_URL (then no
// directory), else Debian's python3-pyftpdlib started on a free port.
func Server(t testing.TB) (string, string) {
	t.Helper()
	if u := os.Getenv("DOJOT_TEST_FTP_URL"); u != "" {
		return u, ""
	}
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import pyftpdlib").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-pyftpdlib is not installed (apt-get install python3-pyftpdlib) and DOJOT_TEST_FTP_URL is not set")
		}
		t.Skip("DOJOT_TEST_FTP_URL not set and python3-pyftpdlib not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(py, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-w", "-d", dir, "-u", "dojot", "-P", "dojot")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pyftpdlib did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "ftp://" + addr, dir
}
