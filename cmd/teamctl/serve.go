package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/web"
)

// ServeOptions are the options of `teamctl serve`.
type ServeOptions struct {
	Factory         *Factory
	Addr            string
	ReadOnly        bool
	PrintURL        bool
	TLSCert, TLSKey string
}

func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{Factory: f}
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
			url, err := orchestrator.ServedURL(ws.StateDir())
			if err != nil {
				return err
			}
			fmt.Fprintln(out, url)
			return nil
		}
		return web.Serve(ctx, ws, web.ServeOptions{Addr: opts.Addr, ReadOnly: opts.ReadOnly, TLSCert: opts.TLSCert, TLSKey: opts.TLSKey,
			Out: out, Log: opts.Factory.Log})
	})
}
