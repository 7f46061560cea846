package ctxerr

import (
	"context"
	"errors"
	"testing"
)

func TestWrap(t *testing.T) {
	boom := errors.New("boom")
	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()
	if Wrap(live, nil) != nil || Wrap(done, nil) != nil {
		t.Error("no error: want nil")
	}
	if err := Wrap(live, boom); err != boom {
		t.Errorf("live context: %v; want the error as it is", err)
	}
	if err := Wrap(done, boom); !errors.Is(err, context.Canceled) || !errors.Is(err, boom) {
		t.Errorf("done context: %v; want both context.Canceled and the error", err)
	}
	if err := Wrap(done, context.Canceled); err != context.Canceled {
		t.Errorf("already the context's error: %v; want it as it is", err)
	}
}
