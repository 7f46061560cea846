//go:build integration && race

package integration

// raceEnabled: the suite runs with -race, so the example is built with it too.
const raceEnabled = true
