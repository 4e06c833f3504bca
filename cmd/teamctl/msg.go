package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teamctl/teamctl/internal/shorten"
	"github.com/teamctl/teamctl/orchestrator"
	"github.com/teamctl/teamctl/store"
)

// MsgOptions are the options of the `teamctl msg` commands.
type MsgOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	To      string // send
	ReplyTo int64  // send
	Peer    string // thread
	All     bool   // thread --all
	Text    string
	Limit   int
	JSON    bool
}

// NewCmdMsg is `teamctl msg`: send, broadcast, inbox, feed, thread. runF, when set, runs
// instead of every subcommand's own run function, with the subcommand's name.
func NewCmdMsg(f *Factory, runF func(context.Context, string, *MsgOptions) error) *cobra.Command {
	opts := &MsgOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "msg",
		Short: "Send and read messages between the agents and the human",
		Long: `Messages between the team's participants: its agents and the human. An agent's identity is
$TEAMCTL_AGENT; a person's shell is "human" (or --as NAME).`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	addCallerFlags(cmd.PersistentFlags(), &opts.Caller)
	cmd.PersistentFlags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	sub := func(name string, run func(context.Context, *MsgOptions) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), name, opts)
			}
			return run(cmd.Context(), opts)
		}
	}
	send := &cobra.Command{
		Use:   "send (--to NAME | --reply-to ID) TEXT",
		Short: "Send a message to one agent, or to the human",
		Long: `Send a message to one agent, or to the human. --reply-to ID answers message ID (the number
msg inbox and msg thread show in brackets): it goes to whoever sent it, unless --to says
otherwise, and msg thread shows it as a reply. --json prints the message sent, with its id.`,
		Args: minArgs(1, "the message text"),
	}
	send.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Text = text(args)
		if opts.To == "" && opts.ReplyTo == 0 {
			return &usageError{fmt.Errorf("msg send: --to NAME is required (or --reply-to ID, to answer a message)")}
		}
		if opts.ReplyTo < 0 {
			return &usageError{fmt.Errorf("msg send: --reply-to %d: want a message id (a number > 0)", opts.ReplyTo)}
		}
		return sub("send", msgSendRun)(cmd, args)
	}
	send.Flags().StringVar(&opts.To, "to", "", "the recipient: an agent of the team, or human")
	send.Flags().Int64Var(&opts.ReplyTo, "reply-to", 0, "the id of the message this answers (the recipient defaults to its sender)")

	broadcast := &cobra.Command{
		Use:   "broadcast TEXT",
		Short: "Send a message to every other agent still at work",
		Args:  minArgs(1, "the message text"),
	}
	broadcast.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Text = text(args)
		return sub("broadcast", msgBroadcastRun)(cmd, args)
	}
	inbox := &cobra.Command{
		Use:   "inbox",
		Short: "Print your unread messages and mark them read",
		Args:  exactArgs(0),
		RunE:  sub("inbox", msgInboxRun),
	}
	feed := &cobra.Command{
		Use:   "feed",
		Short: "Print the team's newest coordination acts: messages, intents, reservations, blockers",
		Args:  exactArgs(0),
		RunE:  sub("feed", msgFeedRun),
	}
	feed.Flags().IntVar(&opts.Limit, "limit", 0, fmt.Sprintf("how many (default %d, at most %d)", orchestrator.DefaultLimit, orchestrator.MaxLimit))
	thread := &cobra.Command{
		Use:   "thread NAME",
		Short: "Print the messages between you and NAME (--all: every message NAME sent or received)",
		Args:  exactArgs(1),
	}
	thread.Flags().BoolVar(&opts.All, "all", false, "every message NAME sent or received, whoever the other side (the person running the team only)")
	thread.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Peer = args[0]
		return sub("thread", msgThreadRun)(cmd, args)
	}
	thread.Flags().IntVar(&opts.Limit, "limit", 0, fmt.Sprintf("how many (default %d, at most %d)", orchestrator.DefaultLimit, orchestrator.MaxLimit))
	cmd.AddCommand(send, broadcast, inbox, feed, thread)
	return cmd
}

func msgSendRun(ctx context.Context, opts *MsgOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		m, err := p.Reply(ctx, opts.ReplyTo, opts.To, opts.Text)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, m)
		}
		if m.ReplyTo != 0 {
			fmt.Fprintf(opts.Factory.IO.Out, "sent to %s (message %d, a reply to %d)\n", m.To, m.ID, m.ReplyTo)
			return nil
		}
		fmt.Fprintf(opts.Factory.IO.Out, "sent to %s (message %d)\n", m.To, m.ID)
		return nil
	})
}

func msgBroadcastRun(ctx context.Context, opts *MsgOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		ms, err := p.Broadcast(ctx, opts.Text)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, ms)
		}
		to := make([]string, len(ms))
		for i, m := range ms {
			to[i] = m.To
		}
		fmt.Fprintf(opts.Factory.IO.Out, "sent to %s\n", strings.Join(to, ", "))
		return nil
	})
}

func msgInboxRun(ctx context.Context, opts *MsgOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		ms, err := p.Inbox(ctx)
		if err != nil {
			return err
		}
		return printMessages(opts, ms, "no unread messages")
	})
}

func msgThreadRun(ctx context.Context, opts *MsgOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		if opts.All {
			ms, err := p.MessagesOf(ctx, opts.Peer, opts.Limit)
			if err != nil {
				return err
			}
			return printMessages(opts, ms, opts.Peer+" has sent and received no messages")
		}
		ms, err := p.Thread(ctx, opts.Peer, opts.Limit)
		if err != nil {
			return err
		}
		none := "no messages between you (" + p.Name() + ") and " + opts.Peer
		if p.Name() == orchestrator.Human {
			none += " (msg thread " + opts.Peer + " --all shows its messages with everyone)"
		}
		return printMessages(opts, ms, none)
	})
}

func printMessages(opts *MsgOptions, ms []store.Message, none string) error {
	if opts.JSON {
		return writeJSON(opts.Factory.IO.Out, orEmpty(ms))
	}
	lines := make([]string, len(ms))
	for i, m := range ms {
		to := m.To
		if m.Broadcast {
			to = "all"
		}
		re := ""
		if m.ReplyTo != 0 {
			re = fmt.Sprintf(" (re [%d])", m.ReplyTo)
		}
		lines[i] = fmt.Sprintf("%s  [%d] %s → %s%s: %s", clock(m.At), m.ID, m.From, to, re, m.Text)
	}
	printLines(printable(opts.Factory.IO.Out), none, lines)
	return nil
}

func msgFeedRun(ctx context.Context, opts *MsgOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		entries, err := p.Feed(ctx, opts.Limit)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, orEmpty(entries))
		}
		lines := make([]string, len(entries))
		for i, e := range entries {
			who := e.From
			if who == "" {
				who = "teamctl"
			}
			if len(e.To) > 0 {
				who += " → " + strings.Join(e.To, ", ")
			}
			lines[i] = fmt.Sprintf("%s  %-17s %s: %s", clock(e.At), e.Kind, who, shorten.Line(e.Text, 300))
			if e.Kind == "intent" && len(e.Files) > 0 {
				lines[i] += " [" + strings.Join(e.Files, ", ") + "]"
			}
		}
		printLines(printable(opts.Factory.IO.Out), "nothing in the feed yet", lines)
		return nil
	})
}

// IntentOptions are the options of `teamctl intent`.
type IntentOptions struct {
	Factory *Factory
	Caller  orchestrator.Caller
	Text    string
	Files   []string
	JSON    bool
}

func NewCmdIntent(f *Factory, runF func(context.Context, *IntentOptions) error) *cobra.Command {
	opts := &IntentOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "intent TEXT [--files PATH,...]",
		Short: "Say what you are about to do (shown in the feed; reserves nothing)",
		Args:  minArgs(1, "the text"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Text = text(args)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return intentRun(cmd.Context(), opts)
		},
	}
	addCallerFlags(cmd.Flags(), &opts.Caller)
	cmd.Flags().StringSliceVar(&opts.Files, "files", nil, "the paths it is about (repeat, or separate with commas)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func intentRun(ctx context.Context, opts *IntentOptions) error {
	return withParticipant(ctx, opts.Factory, opts.Caller, func(p *orchestrator.Participant) error {
		in, err := p.Intent(ctx, opts.Text, opts.Files)
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(opts.Factory.IO.Out, in)
		}
		fmt.Fprintf(opts.Factory.IO.Out, "intent %d recorded\n", in.ID)
		return nil
	})
}
