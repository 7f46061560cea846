package main

import (
	"testing"

	"github.com/fiberlogto/sdk/example/internal/tutorialtest"
)

// The tutorial's behaviour tests on the net/http app (the Fiber v2 and v3
// apps run the same ones: ../example_test.go, ../fiberv3).
func TestTutorial(t *testing.T) { tutorialtest.Run(t, newApp) }
