//go:build integration && !linux

package integration

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; elsewhere
// the suite relies on its cleanups (and the provider on its stdin closing).
func dieWithParent(*exec.Cmd) {}
