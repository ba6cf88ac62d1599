// Package proc starts and stops the processes a load benchmark measures, on loopback.
package proc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Start runs cmd with its output in dir/logName.
func Start(cmd *exec.Cmd, dir, logName string) error {
	f, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	return cmd.Start()
}

// Stop interrupts cmd and kills it if it has not exited within ten seconds.
func Stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// WaitTCP waits until something listens on the loopback port.
func WaitTCP(port int) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on port %d", port)
}

// FreePort finds a free loopback port.
func FreePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// NATSServer starts a JetStream nats-server on a free port with its store in dir and
// returns its URL.
func NATSServer(bin, dir string) (*exec.Cmd, string, error) {
	port := FreePort()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js",
		"-sd", filepath.Join(dir, "js"))
	if err := Start(cmd, dir, "nats.log"); err != nil {
		return nil, "", err
	}
	if err := WaitTCP(port); err != nil {
		Stop(cmd)
		return nil, "", err
	}
	return cmd, "nats://127.0.0.1:" + strconv.Itoa(port), nil
}
