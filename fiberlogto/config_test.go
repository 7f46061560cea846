package fiberlogto_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fiberlogto/sdk/fiberlogto"

	"github.com/fiberlogto/sdk/logto"
)

// TestNewNamesTheBadField: New returns ErrConfig naming the field; the
// engine's own tests cover every field (internal/engine/config_test.go).
func TestNewNamesTheBadField(t *testing.T) { forEachAdapter(t, testNewNamesTheBadField) }

func testNewNamesTheBadField(t *testing.T, ad adapter) {
	_, err := ad.new(config{Config: logto.Config{Endpoint: "http://127.0.0.1:3001", AppID: "app", AppSecret: "s", BaseURL: "localhost:3000"}})
	if !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), "BaseURL") {
		t.Fatalf("err = %v, want ErrConfig naming BaseURL", err)
	}
	if _, err := ad.new(config{Config: logto.Config{}}); !errors.Is(err, logto.ErrConfig) {
		t.Fatalf("no config: %v", err)
	}
}

func TestWithLogtoPanicsOnBadConfig(t *testing.T) { forEachAdapter(t, testWithLogtoPanicsOnBadConfig) }

func testWithLogtoPanicsOnBadConfig(t *testing.T, ad adapter) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic")
		}
	}()
	ad.withLogto(config{Config: logto.Config{}})
}

// TestConfigDefaultsVisible: the effective config has the defaults filled,
// the storage and the error handler included.
func TestConfigDefaultsVisible(t *testing.T) { forEachAdapter(t, testConfigDefaultsVisible) }

func testConfigDefaultsVisible(t *testing.T, ad adapter) {
	l, err := ad.new(config{Config: logto.Config{Endpoint: "http://127.0.0.1:3001/", AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := l.cfg
	if cfg.Endpoint != "http://127.0.0.1:3001" || cfg.Storage == nil || !l.errorHandler || cfg.RoutesPrefix != fiberlogto.ConfigDefault.RoutesPrefix {
		t.Fatalf("effective config: %+v", cfg)
	}
}
