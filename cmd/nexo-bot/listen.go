package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// listenServer binds server.listen before anything else starts (the store,
// the GitOps clone, Slack), so a replica that cannot serve /healthz,
// /readyz and /metrics exits at once, non-zero, naming the address; under
// Kubernetes it is then restarted instead of running blind. An empty
// address means no listener (ln nil).
func listenServer(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on server.listen %q: %w\n  another process may hold the port, or the address is wrong: free it, or set server.listen to another address (\"\" runs without /healthz, /readyz, /metrics and the API)", addr, err)
	}
	return ln, nil
}

// serveHTTP serves h on ln until the server is shut down; a failure after
// the start is reported on failed (nil ln: nothing is served).
func serveHTTP(ln net.Listener, h http.Handler, log *slog.Logger, failed func(error)) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ln == nil {
		return srv
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "listen", ln.Addr().String(), "err", err)
			failed(fmt.Errorf("http server on %s: %w", ln.Addr(), err))
		}
	}()
	return srv
}
