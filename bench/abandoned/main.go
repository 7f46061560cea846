// Command abandoned measures what sign-ins that are started and never
// finished cost the server, as a bot would leave them: it runs the example
// app (SQLite sessions, embedded provider), sends GET /logto/sign-in from a
// client that keeps no cookies, and reports the growth of the app's resident
// memory plus the SQLite database, WAL and shared-memory files, per sign-in.
//
//	go run ./bench/abandoned                  # 5,000 warm-up, then 20,000 measured
//	go run ./bench/abandoned -repo ../old     # the example of another checkout
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	repo := flag.String("repo", ".", "checkout whose ./example is measured")
	warmup := flag.Int("warmup", 5000, "sign-ins started before the first measurement")
	n := flag.Int("n", 20000, "sign-ins started between the two measurements")
	workers := flag.Int("workers", 8, "concurrent clients")
	flag.Parse()
	if err := run(*repo, *warmup, *n, *workers); err != nil {
		log.Fatal(err)
	}
}

func run(repo string, warmup, n, workers int) error {
	dir, err := os.MkdirTemp("", "abandoned")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "example")
	build := exec.Command("go", "build", "-o", bin, "./example")
	build.Dir, build.Stdout, build.Stderr = repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the example: %w", err)
	}
	addr, devAddr := freeAddr(), freeAddr()
	db := filepath.Join(dir, "sessions.sqlite3")
	app := exec.Command(bin)
	app.Env = append(os.Environ(), "SESSION_STORAGE=sqlite", "SESSION_DB="+db, "ADDR="+addr,
		"BASE_URL=http://"+addr, "LOGTO_DEV_ADDR="+devAddr, "LOG_LEVEL=error")
	if err := app.Start(); err != nil {
		return err
	}
	defer func() { _ = app.Process.Kill(); _ = app.Wait() }()

	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: workers},
	}
	target := "http://" + addr + "/logto/sign-in?returnTo=/protected"
	if err := waitReady(client, target); err != nil {
		return err
	}
	if err := signIns(client, target, warmup, workers); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let the WAL checkpoint and the GC settle
	before := measure(app.Process.Pid, db)
	if err := signIns(client, target, n, workers); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	after := measure(app.Process.Pid, db)

	fmt.Printf("abandoned sign-ins: %d warm-up, %d measured, %d clients, SQLite sessions\n", warmup, n, workers)
	fmt.Printf("%-22s %14s %14s %14s\n", "", "before", "after", "growth")
	row := func(name string, b, a int64) {
		fmt.Printf("%-22s %14d %14d %14d\n", name, b, a, a-b)
	}
	row("RSS (bytes)", before.rss, after.rss)
	row("database (bytes)", before.db, after.db)
	row("WAL (bytes)", before.wal, after.wal)
	row("shared memory (bytes)", before.shm, after.shm)
	total := (after.rss + after.db + after.wal + after.shm) - (before.rss + before.db + before.wal + before.shm)
	fmt.Printf("retained per sign-in: %.1f bytes (RSS + storage growth / %d)\n", float64(total)/float64(n), n)
	return nil
}

type sizes struct{ rss, db, wal, shm int64 }

func measure(pid int, db string) sizes {
	return sizes{rss: rss(pid), db: fileSize(db), wal: fileSize(db + "-wal"), shm: fileSize(db + "-shm")}
}

// rss reads VmRSS from /proc (Linux).
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// signIns starts n sign-ins from clients that keep no cookies.
func signIns(client *http.Client, target string, n, workers int) error {
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := client.Get(target)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusFound {
						err = fmt.Errorf("sign-in answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d sign-ins failed, first: %w", f, n, firstErr)
	}
	return nil
}

func waitReady(client *http.Client, target string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := client.Get(target); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusFound {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the example did not start")
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
