package logtotest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// logStateAtStart is what TestMain found of the log and slog packages'
// state once every package was initialized: "" when it was the state a
// process starts with.
var logStateAtStart string

// TestMain checks that initializing the package left the log and slog
// packages alone (TestInitLeavesLogAlone), then quiets what zitadel's op
// still logs to slog.Default: the malformed requests some tests send on
// purpose (Options.Logger).
func TestMain(m *testing.M) {
	logStateAtStart = logState()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// logState describes how the log and slog packages differ from how a
// process starts: log writing to os.Stderr with log.LstdFlags, and
// slog.Default writing through log.
func logState() string {
	if f := log.Flags(); f != log.LstdFlags {
		return fmt.Sprintf("log.Flags() = %d, not log.LstdFlags", f)
	}
	if log.Writer() != os.Stderr {
		return fmt.Sprintf("log.Writer() = %T, not os.Stderr", log.Writer())
	}
	var buf bytes.Buffer
	log.SetOutput(&buf)
	slog.Info("probe")
	log.SetOutput(os.Stderr)
	if !strings.HasSuffix(buf.String(), " INFO probe\n") {
		return fmt.Sprintf("slog.Default() does not write through log: %q", buf.String())
	}
	return ""
}

// TestInitLeavesLogAlone: the package builds zitadel's op handler while it
// initializes, with slog.Default discarding; it leaves the default logger
// and the log package's output and flags as they were.
func TestInitLeavesLogAlone(t *testing.T) {
	if logStateAtStart != "" {
		t.Fatal(logStateAtStart)
	}
}
