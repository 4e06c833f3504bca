package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/web"
)

// ServeOptions are the options of `teamctl serve`.
type ServeOptions struct {
	Factory          *Factory
	Addr             string
	ReadOnly         bool
	PrintURL         bool
	TLSCert, TLSKey  string
	onListen         func(url string) // tests: the server is up
	shutdownDeadline time.Duration
}

func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{Factory: f, shutdownDeadline: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--read-only]",
		Short: "Serve every team of this repository to a browser, live, with the person's actions",
		Long: `serve is the web dashboard: every team of the repository, its blockers (with an answer
box), agents, tasks, merge queue, incidents and feed, each agent's conversation and the
review, all live; and a JSON API under /api/ (see the README). The first line it prints is
the URL with the login token; without the token every request is refused (401). The token
is kept in a file of yours beside the store: --print-url shows the URL again. It listens on
loopback unless --addr says otherwise; on another address without --tls-cert and --tls-key
it warns that the token travels in clear. --read-only shows everything and refuses every
action (403).`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return &usageError{errors.New("serve: --tls-cert and --tls-key go together")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", "127.0.0.1:7420", "listen on `HOST:PORT` (port 0: any free one)")
	cmd.Flags().BoolVar(&opts.ReadOnly, "read-only", false, "show everything, refuse every action")
	cmd.Flags().BoolVar(&opts.PrintURL, "print-url", false, "print the login URL of the last serve of this repository and exit")
	cmd.Flags().StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `FILE`")
	cmd.Flags().StringVar(&opts.TLSKey, "tls-key", "", "and this key `FILE`")
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	return withWorkspace(ctx, opts.Factory, func(ws *orchestrator.Workspace) error {
		if err := ws.PersonOnly(ctx, "teamctl serve"); err != nil {
			return err
		}
		out := opts.Factory.IO.Out
		if opts.PrintURL {
			url, err := web.PrintedURL(ws.StateDir())
			if err != nil {
				return err
			}
			fmt.Fprintln(out, url)
			return nil
		}
		token, err := web.Token(ws.StateDir())
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			return &usageError{fmt.Errorf("serve: cannot listen on %s: %v", opts.Addr, err)}
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
		fmt.Fprintln(out, url)
		if err := web.SaveURL(ws.StateDir(), url); err != nil {
			opts.Factory.Log.Warn("cannot keep the URL for --print-url", "err", err)
		}
		if !addr.IP.IsLoopback() && scheme == "http" {
			opts.Factory.Log.Warn("serving on a network address without TLS: the login token and every page travel in clear; use --tls-cert and --tls-key, or a loopback address behind a tunnel", "addr", ln.Addr())
		}
		if opts.ReadOnly {
			opts.Factory.Log.Info("read-only: every action is refused")
		}
		srv := &http.Server{Handler: web.New(ws, web.Options{Token: token, ReadOnly: opts.ReadOnly, Log: opts.Factory.Log}),
			ReadHeaderTimeout: 10 * time.Second,
			// The event streams end with the server: they run until their request does.
			BaseContext: func(net.Listener) context.Context { return ctx }}
		if opts.onListen != nil {
			opts.onListen(url)
		}
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
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.shutdownDeadline)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		return nil
	})
}
