// Package ctxerr is how the network session storages (redis, postgres)
// report a call whose context ended, so that its error wraps the context's
// whatever the driver made of it. A storage whose driver may hide the
// context's error picks it.
package ctxerr

import (
	"context"
	"errors"
	"fmt"
)

// Wrap makes err, the error of a call under ctx, wrap ctx's error once ctx
// is done (cancelled, or past its deadline), whatever the driver made of
// it, so callers can test errors.Is(err, context.Canceled).
func Wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
