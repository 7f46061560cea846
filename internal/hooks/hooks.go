// Package hooks reaches what package logto keeps out of its API for the
// engine and the tests: the clock of a Config. Package logto sets the
// variables when it is initialised; nothing else writes them.
package hooks

import "time"

// Clock returns where the clock of cfg, a *logto.Config, is kept: nil
// there means time.Now. The engine reads it; tests set it to move time.
var Clock func(cfg any) *func() time.Time
