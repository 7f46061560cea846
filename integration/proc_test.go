//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a child the suite started (the provider, an example app): its
// output is kept for failure messages, and stop always ends it.
type process struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *tail
	lines chan string // stdout lines, until the first reader stops caring
	done  chan struct{}
	err   error // Wait's result, once done is closed
}

// tail keeps the last 64 KiB a process printed.
type tail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - 64<<10; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// startProcess starts cmd with a pipe on stdin (closed by stop) and its
// output captured. Every stdout line is also offered on p.lines.
func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	p := &process{name: name, cmd: cmd, out: &tail{}, lines: make(chan string, 64), done: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = p.out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.stdin = stdin
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.out.Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			default: // nobody is reading: the line is in out all the same
			}
		}
		_, _ = io.Copy(p.out, stdout)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it to the end first
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: stdin closed and SIGTERM, then SIGKILL after 10 s.
// It is safe to call twice.
func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.stdin.Close()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// failure describes how the process went, for a test failure message.
func (p *process) failure() string {
	state := "running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.err)
	}
	out := strings.TrimSpace(p.out.String())
	if len(out) > 8000 {
		out = "…" + out[len(out)-8000:]
	}
	return fmt.Sprintf("%s (%s), output:\n%s", p.name, state, out)
}

// waitLine returns the first stdout line for which match is true.
func (p *process) waitLine(timeout time.Duration, match func(string) bool) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line := <-p.lines:
			if match(line) {
				return line, nil
			}
		case <-p.done:
			// Drain what was printed before the end.
			for {
				select {
				case line := <-p.lines:
					if match(line) {
						return line, nil
					}
				default:
					return "", errors.New(p.failure())
				}
			}
		case <-deadline.C:
			return "", fmt.Errorf("no ready line after %s: %s", timeout, p.failure())
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Ports are reserved up front because the provider must know the app's
// redirect URIs (BASE_URL includes the port) before the app starts.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
