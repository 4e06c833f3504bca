package web

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/charmbracelet/log"

	"github.com/teamctl/teamctl/orchestrator"
)

// ServeOptions are `teamctl serve`'s.
type ServeOptions struct {
	Addr            string // HOST:PORT; port 0: any free one
	ReadOnly        bool
	TLSCert, TLSKey string    // both or neither
	Out             io.Writer // the login URL goes here, first
	Log             *log.Logger
}

// shutdownGrace is how long open requests get once ctx ends.
const shutdownGrace = 5 * time.Second

// Serve listens on opts.Addr and serves ws's teams until ctx ends: it prints the login URL
// (with the token, kept for --print-url) first, and warns when the token would travel in
// clear. An address it cannot have is bad usage (ErrUsage).
func Serve(ctx context.Context, ws *orchestrator.Workspace, opts ServeOptions) error {
	token, err := Token(ws.StateDir())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return orchestrator.Errorf(orchestrator.ErrUsage, "serve: cannot listen on %s: %v", opts.Addr, err)
	}
	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := fmt.Sprintf("%s://%s/?token=%s", scheme, net.JoinHostPort(host, fmt.Sprint(addr.Port)), token)
	fmt.Fprintln(opts.Out, url)
	if err := SaveURL(ws.StateDir(), url); err != nil {
		opts.Log.Warn("cannot keep the URL for --print-url", "err", err)
	}
	if !addr.IP.IsLoopback() && scheme == "http" {
		opts.Log.Warn("serving on a network address without TLS: the login token and every page travel in clear; use --tls-cert and --tls-key, or a loopback address behind a tunnel", "addr", ln.Addr())
	}
	if opts.ReadOnly {
		opts.Log.Info("read-only: every action is refused")
	}
	srv := &http.Server{Handler: New(ws, Options{Token: token, ReadOnly: opts.ReadOnly, Log: opts.Log}),
		ReadHeaderTimeout: 10 * time.Second,
		// The event streams end with the server: they run until their request does.
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() {
		if scheme == "https" {
			done <- srv.ServeTLS(ln, opts.TLSCert, opts.TLSKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
