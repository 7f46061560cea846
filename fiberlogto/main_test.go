package fiberlogto_test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain quiets zitadel's op package, which logs every route it registers
// to the global slog logger, once per in-process provider.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
