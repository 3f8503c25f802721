package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// storeVerb is what an administrative verb does once its store is open.
type storeVerb func(ctx context.Context, cfg config.Config, st store.Store, args []string) error

// storeOpener loads the configuration and opens its store:
// openForCommand (creates nothing) or openCreating.
type storeOpener func(context.Context, commonFlags) (config.Config, store.Store, error)

// onStore is the RunE of an administrative verb: it opens the store with
// open, runs verb on it and closes it.
func (c *cli) onStore(open storeOpener, verb storeVerb) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		cfg, st, err := open(ctx, c.flags)
		if err != nil {
			return err
		}
		defer st.Close()
		return verb(ctx, cfg, st, args)
	}
}

// newListCmd is a list verb: it takes no argument, prints text or, with
// --output json, a JSON array, and reads the existing store without
// creating one.
func (c *cli) newListCmd(use, short string, list func(ctx context.Context, cfg config.Config, st store.Store, out outputFlag) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, _ []string) error {
		return list(ctx, cfg, st, *out)
	})
	return cmd
}

// events is the sink a CLI verb publishes to: the logging subscriber,
// writing to standard error (no metrics: nothing serves them).
func (c *cli) events(cfg config.Config, st store.Store) *event.Fanout {
	log := newLogger(cfg, c.stderr)
	f := newEvents(log, nil)
	subscribeAudit(f, cfg, st, log)
	return f
}

// adminAction publishes what an operator did from the command line, as the
// admin API publishes what it is asked to do (issue 7: CLI actions emit
// events too). e says the action and its object.
func adminAction(ctx context.Context, ev event.Sink, e event.Event) {
	e.Kind, e.At, e.Actor = event.AdminAction, time.Now().UTC(), event.ActorCLI
	ev.Publish(ctx, e)
}

// newSessions is the session manager of a CLI verb, configured by the
// policy as the server's is, so a revocation reaches the feed running
// servers follow. ev receives its events; nil for a verb that only reads.
func newSessions(cfg config.Config, st store.Store, ev event.Sink) *session.Manager {
	scfg := sessionConfig(cfg)
	scfg.Events = ev
	return session.New(st, scfg)
}
