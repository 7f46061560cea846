package tutorial

import (
	"fmt"
	"net"

	"github.com/fiberlogto/sdk/logtotest"
)

// StartDevProvider starts the in-process Logto-compatible provider the
// example uses when LOGTO_ENDPOINT is unset, on cfg.DevAddr (a loopback
// address), with the demo user and one application matching cfg. It returns
// cfg with Endpoint pointing at the provider.
//
// The provider keeps everything in memory: after a restart, sessions stored
// in SQLite still show the user as signed in, but their tokens are unknown
// to the new provider, so anything that needs a token asks to sign in again.
func StartDevProvider(cfg Config) (*logtotest.Provider, Config, error) {
	resources := []string{DevResource}
	if cfg.Resource != "" && cfg.Resource != DevResource {
		resources = append(resources, cfg.Resource)
	}
	p, err := logtotest.NewUnstarted(logtotest.Options{
		ClientID:               cfg.AppID,
		ClientSecret:           cfg.AppSecret,
		RedirectURIs:           []string{cfg.BaseURL + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{cfg.BaseURL},
		Users:                  []logtotest.User{logtotest.DemoUser},
		Resources:              resources,
		// The app trades personal access tokens on /api/data for access
		// tokens (token exchange), which Logto allows per application.
		AllowTokenExchange: true,
		// A machine-to-machine app for the API's client-credentials calls:
		// read:data on every resource.
		MachineApps: []logtotest.MachineApp{{
			ID: logtotest.DemoMachineApp.ID, Secret: logtotest.DemoMachineApp.Secret,
			ResourceScopes: resourceScopes(resources, ScopeReadData),
		}},
	})
	if err != nil {
		return nil, cfg, fmt.Errorf("embedded provider: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.DevAddr)
	if err != nil {
		return nil, cfg, fmt.Errorf("embedded provider: listen on LOGTO_DEV_ADDR=%s: %w (set LOGTO_DEV_ADDR to a free loopback address, or LOGTO_ENDPOINT to use a real Logto)", cfg.DevAddr, err)
	}
	p.Start(ln)
	cfg.Endpoint = p.URL
	return p, cfg, nil
}

func resourceScopes(resources []string, scope string) map[string][]string {
	m := make(map[string][]string, len(resources))
	for _, r := range resources {
		m[r] = []string{scope}
	}
	return m
}
