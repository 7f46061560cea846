package fiberlogto_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"testing"

	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/logto"
)

// TestMain quiets zitadel's op package, which logs every route it registers
// to the global slog logger, once per in-process provider. After the tests
// it checks that the engine's one anonymous Session, which every request
// without a live session shares, is still anonymous: every flow and attack
// of the shared table, on every adapter, ran through it, and none may have
// written to it (the race detector sees concurrent writes; this sees any).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	anon := engine.Anonymous()
	wantJSON := (&logto.UserContext{}).AppendJSON(nil)
	code := m.Run()
	if !reflect.DeepEqual(anon.User, logto.UserContext{}) || !bytes.Equal(anon.JSON(), wantJSON) || !anon.Shared() {
		fmt.Fprintf(os.Stderr, "FAIL: the shared anonymous session was written to: %+v, JSON %s\n", anon.User, anon.JSON())
		code = 1
	}
	os.Exit(code)
}
