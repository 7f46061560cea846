package main

import (
	"testing"

	"github.com/fiberlogto/sdk/example/internal/tutorialtest"
)

// The tutorial's behaviour tests on the Fiber v3 app (the Fiber v2 app runs
// the same ones: ../example_test.go), and ../example_test.go's
// TestExamples runs this example's binary as a user does.
func TestTutorial(t *testing.T) { tutorialtest.Run(t, newApp) }
