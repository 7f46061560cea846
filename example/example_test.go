package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/example/internal/tutorialtest"
)

// The tutorial's behaviour tests on the Fiber v2 app; ./fiberv3 and
// ./nethttp run the same ones on the Fiber v3 and net/http apps.
func TestTutorial(t *testing.T) { tutorialtest.Run(t, newApp) }

// examples are the tutorial apps, one per adapter, as `go run` takes them.
var examples = []struct{ name, pkg string }{
	{"fiberv2", "."},
	{"fiberv3", "./fiberv3"},
	{"nethttp", "./nethttp"},
}

// TestExamples runs each example's command as a user does (`go run
// ./example`, `go run ./example/fiberv3`; built once here) and checks by
// hand what its README says: the start-up message; with BASE_URL on
// localhost, demosignin signs the demo user in from
// http://127.0.0.1:<port>/logto/sign-in and reads /user with the demo
// user's claims; a wrong password fails; SIGINT shuts the app down with
// status 0; a bad environment stops it with status 1 and a message naming
// the variable.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples and ./demosignin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bins := t.TempDir()
	build := func(name, pkg string) string {
		t.Helper()
		bin := filepath.Join(bins, name)
		if out, err := exec.Command(goTool, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		return bin
	}
	demosignin := build("demosignin", "./demosignin")

	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			bin := build(ex.name, ex.pkg)

			t.Run("demosignin", func(t *testing.T) {
				port := freePort(t)
				app := startCommand(t, bin, map[string]string{
					"ADDR":            "127.0.0.1:" + port,
					"BASE_URL":        "http://localhost:" + port,
					"LOGTO_DEV_ADDR":  "127.0.0.1:0",
					"SESSION_STORAGE": "memory",
				})
				banner := app.waitFor(t, regexp.MustCompile(`Sign in: open .*\n`))
				for _, want := range []string{
					"fiberlogto example listening on 127.0.0.1:" + port + ", open http://localhost:" + port + "\n",
					"  sessions: memory\n",
					"  Logto: embedded Logto-compatible provider at http://127.0.0.1:",
					"  Sign in: open http://localhost:" + port + "/logto/sign-in, username: demo, password: demo-password\n",
				} {
					if !strings.Contains(banner, want) {
						t.Errorf("start-up message lacks %q:\n%s", want, banner)
					}
				}

				base := "http://127.0.0.1:" + port
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, demosignin, "-base", base).CombinedOutput()
				if err != nil {
					t.Fatalf("demosignin: %v\n%s", err, out)
				}
				for _, want := range []string{`"isAuthenticated":true`, `"username":"demo"`, `"name":"Demo User"`} {
					if !strings.Contains(string(out), want) {
						t.Fatalf("demosignin printed no %s:\n%s", want, out)
					}
				}

				// A wrong password fails, with a non-zero status.
				out, err = exec.CommandContext(ctx, demosignin, "-base", base, "-password", "wrong").CombinedOutput()
				if err == nil || !strings.Contains(string(out), "session.invalid_credentials") {
					t.Fatalf("demosignin with a wrong password: %v\n%s", err, out)
				}

				if err := app.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				if err := app.wait(t); err != nil {
					t.Fatalf("after SIGINT: %v\n%s", err, app.output())
				}
				if !strings.Contains(app.output(), "shutting down\n") {
					t.Errorf("no shutting down message:\n%s", app.output())
				}
			})

			t.Run("bad-environment", func(t *testing.T) {
				app := startCommand(t, bin, map[string]string{"SESSION_STORAGE": "redis"})
				err := app.wait(t)
				if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
					t.Fatalf("SESSION_STORAGE=redis without REDIS_URL: %v, want exit status 1\n%s", err, app.output())
				}
				if want := "example: SESSION_STORAGE=redis needs REDIS_URL"; !strings.HasPrefix(app.output(), want) {
					t.Errorf("output %q, want it to start with %q", app.output(), want)
				}
			})
		})
	}
}

// command is an example's process, its standard output and error read
// together.
type command struct {
	cmd  *exec.Cmd
	out  tutorialtest.SyncBuffer
	done chan struct{} // closed when it has exited and its output is read
	err  error         // cmd.Wait's, once done
}

func (c *command) output() string { return c.out.String() }

// startCommand runs bin with env (and PATH and HOME) in a temporary
// directory; the test kills it if it is still running at the end.
func startCommand(t *testing.T, bin string, env map[string]string) *command {
	t.Helper()
	c := &command{cmd: exec.Command(bin), done: make(chan struct{})}
	c.cmd.Dir = t.TempDir()
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// waitFor waits until the output matches re, and returns it.
func (c *command) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		out := c.output()
		if re.MatchString(out) {
			return out
		}
		select {
		case <-c.done:
			t.Fatalf("the app exited (%v) before printing %s:\n%s", c.err, re, c.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not print %s within 30 s:\n%s", re, out)
		}
	}
}

// wait waits for the process to exit and returns how it did.
func (c *command) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(20 * time.Second):
		t.Fatalf("the app did not exit within 20 s:\n%s", c.output())
		return nil
	}
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
