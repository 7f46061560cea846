// Package testenv is what the project's tests share about their
// environment: the real servers make test starts for them.
package testenv

import (
	"os"
	"testing"
)

// ServerURL returns the URL of a real test server from the environment
// variable env (REDIS_URL, DATABASE_URL). `make test` starts the servers
// (scripts/services.sh) and exports their URLs. Without it, a test fails
// in CI (CI=true), so a CI that forgot the servers cannot pass by skipping,
// and is skipped elsewhere with a word on how to run it.
func ServerURL(t testing.TB, env, what string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	const how = "run `scripts/services.sh start`, then `set -a; . ${TMPDIR:-/tmp}/fiberlogto-services/env; set +a`"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set and CI=true: this test needs a real %s; %s before go test (make test does)", env, what, how)
	}
	t.Skipf("%s is not set: to test against a real %s, %s", env, what, how)
	return ""
}
