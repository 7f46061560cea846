package storagetest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEachBackendLinksOnlyItsOwnClient: importing one backend's package
// links its own database client and no other's, as with gofiber's
// storages: `go list -deps` of each holds none of the others' drivers. It
// runs the go tool with the test's environment (GOFLAGS included), which
// `go test` always has, so it never skips.
func TestEachBackendLinksOnlyItsOwnClient(t *testing.T) {
	const (
		pgx     = "github.com/jackc/pgx/"
		goredis = "github.com/redis/go-redis/"
		sqlite3 = "github.com/mattn/go-sqlite3"
		// None of them needs Fiber, fiberlogto or logto: they implement
		// fiber.Storage and logto.Leaser structurally (only their tests
		// import those).
		fiberlogto = "github.com/fiberlogto/sdk/fiberlogto"
		logto      = "github.com/fiberlogto/sdk/logto"
		fiber      = "github.com/gofiber/fiber/"
	)
	for _, c := range []struct {
		pkg       string
		wants     []string
		forbidden []string
	}{
		{"memory", nil, []string{pgx, goredis, sqlite3, fiberlogto, logto, fiber}},
		{"redis", []string{goredis}, []string{pgx, sqlite3, fiberlogto, logto, fiber}},
		{"postgres", []string{pgx}, []string{goredis, sqlite3, fiberlogto, logto, fiber}},
		{"sqlite", []string{sqlite3}, []string{pgx, goredis, fiberlogto, logto, fiber}},
	} {
		t.Run(c.pkg, func(t *testing.T) {
			pkg := "github.com/fiberlogto/sdk/storage/" + c.pkg
			out, err := exec.Command("go", "list", "-deps", pkg).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
			}
			deps := strings.Fields(string(out))
			has := func(prefix string) string {
				for _, d := range deps {
					if strings.HasPrefix(d, prefix) {
						return d
					}
				}
				return ""
			}
			if has(pkg) == "" {
				t.Fatalf("go list -deps %s does not list the package itself:\n%s", pkg, out)
			}
			for _, w := range c.wants {
				if has(w) == "" {
					t.Errorf("%s does not link %s, its own client", pkg, w)
				}
			}
			for _, f := range c.forbidden {
				if d := has(f); d != "" {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		})
	}
}
