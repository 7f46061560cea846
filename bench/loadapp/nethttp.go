package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
)

// netHTTP builds loadapp's apps on net/http (-adapter http): an
// http.Server with the example app's timeouts in front of the standard
// ServeMux, behind logtohttp where there is a middleware. The handlers
// answer what routes.go's answer on Fiber: the same headers that matter
// (Content-Type: application/json, Cache-Control: no-store) and the same
// body bytes.
var netHTTP = major{
	logtoApp: func(s settings) (server, error) {
		lg, err := logtohttp.New(logtohttp.Config{Config: logtoConfig(s)})
		if err != nil {
			return server{}, err
		}
		mux := http.NewServeMux()
		// The example app's /user: logtohttp.SendUser.
		mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			logtohttp.SendUser(w, r)
		})
		// The same context through encoding/json, which loadapp checks
		// answers the same body (never loaded).
		mux.HandleFunc("GET /user-json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, logtohttp.User(r))
		})
		return appHTTP(lg.Handler(mux)), nil
	},
	bareApp: func(body []byte, user *logto.UserContext) server {
		mux := http.NewServeMux()
		// The signed-in body as fixed bytes: net/http's floor.
		mux.HandleFunc("GET /user", func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
		// The same body built by encoding/json from a UserContext, as the
		// Fiber bare app's c.JSON builds it.
		mux.HandleFunc("GET /user-json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, user)
		})
		return appHTTP(mux)
	},
	apiApp: func(mode string, s settings, body []byte) (server, error) {
		if mode != "bearer" {
			return server{}, fmt.Errorf("-mode %s: Fiber v2 only", mode)
		}
		lg, err := logtohttp.New(logtohttp.Config{Config: apiConfig(s)})
		if err != nil {
			return server{}, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /api/data", lg.RequireAccessToken(apiPolicy)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})))
		return appHTTP(mux), nil
	},
}

// writeJSON answers v as encoding/json marshals it, with the Content-Type
// Fiber v2's c.JSON sends: json.Marshal rather than a json.Encoder, whose
// trailing newline Fiber's c.JSON does not send.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// appHTTP is an http.Server with the example app's timeouts serving h.
func appHTTP(h http.Handler) server {
	srv := &http.Server{
		Handler:      h,
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  idleTimeout,
	}
	return server{
		serve: srv.Serve,
		shutdown: func(timeout time.Duration) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
}
