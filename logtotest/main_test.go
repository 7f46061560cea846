package logtotest

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain quiets zitadel's op package, which logs every route it registers
// and every error answer to the global slog logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
