package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/store"
)

// subscribeAudit records the command line's admin actions in the audit
// log, synchronously, when the master key (the chain's key) is at hand: a
// store that never served has none yet, and then has no chain to extend.
func subscribeAudit(f *event.Fanout, cfg config.Config, st store.Store, log *slog.Logger) {
	if cfg.Audit.Disabled || st == nil {
		return
	}
	m, _, err := app.MasterKey(cfg)
	if err != nil {
		return
	}
	chain, err := app.AuditChain(m)
	if err != nil {
		return
	}
	f.Subscribe(audit.NewDirect(st, chain, "cli", log))
}

// auditChain is the chain key from the master key, which verify needs.
func auditChain(cfg config.Config) (*audit.Chain, error) {
	m, source, err := app.MasterKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("the audit chain is keyed by the master key (%s): %w", source, err)
	}
	return app.AuditChain(m)
}

func (c *cli) newAuditCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "audit", Short: "Verify and export the tamper-evident audit log"})
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit chain and its checkpoints; exit 1 at the first bad record",
		Long: `Check every audit record's keyed MAC against the one before it, every
checkpoint's signature and record, and the chain's head. An edited, deleted,
inserted or reordered record, or a tail truncated behind the latest
checkpoint, fails: the first bad record is named and the exit status is 1.
Needs the master key (TESSERA_MASTER_KEY or the data folder's master-key file).`,
		Args: noArgs,
	}
	verify.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, _ []string) error {
		chain, err := auditChain(cfg)
		if err != nil {
			return err
		}
		last := time.Now()
		rep, err := audit.Verify(ctx, st, chain, func(n int64) {
			if time.Since(last) > 2*time.Second {
				fmt.Fprintf(c.stderr, "verified %d records…\n", n)
				last = time.Now()
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "records checked: %d", rep.Records)
		if rep.Records > 0 {
			fmt.Fprintf(c.stdout, " (%d to %d)", rep.First, rep.Last)
		}
		fmt.Fprintf(c.stdout, "\ncheckpoints: %d\n", rep.Checkpoints)
		if rep.Cut > 0 {
			fmt.Fprintf(c.stdout, "retention cut: records up to %d pruned\n", rep.Cut)
		}
		if !rep.OK() {
			fmt.Fprintf(c.stdout, "first failure: record %d: %s\n", rep.FailedSeq, rep.Failure)
			return errors.New("audit log fails verification at record " + fmt.Sprint(rep.FailedSeq))
		}
		fmt.Fprintln(c.stdout, "first failure: none; the audit log verifies")
		return nil
	})

	export := &cobra.Command{
		Use:   "export",
		Short: "Write audit records as JSON lines, oldest first",
		Long: `Write the audit records the filters select to standard output, one JSON
object a line (the admin API's record format), oldest first. A progress line
goes to standard error every 10000 records.`,
		Args: noArgs,
	}
	var q store.AuditQuery
	var since, until string
	export.Flags().StringVar(&q.UserID, "user", "", "only records about this user id")
	export.Flags().StringVar(&q.SessionID, "session", "", "only records about this session id")
	export.Flags().StringVar(&q.Event, "event", "", "only records of this event (login_failed, admin_action, …)")
	export.Flags().StringVar(&since, "since", "", "only records at or after this time (RFC 3339)")
	export.Flags().StringVar(&until, "until", "", "only records before this time (RFC 3339)")
	export.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, _ []string) error {
		var err error
		if q.Since, q.Until, err = parseRange(since, until); err != nil {
			return err
		}
		q.Limit = 1000
		enc := json.NewEncoder(c.stdout)
		var n int64
		for {
			page, err := st.AuditRecords(ctx, q)
			if err != nil {
				return err
			}
			for _, r := range page {
				if err := enc.Encode(server.AuditJSON(r)); err != nil {
					return err
				}
				if n++; n%10000 == 0 {
					fmt.Fprintf(c.stderr, "exported %d records (at %d)\n", n, r.Seq)
				}
			}
			if len(page) < q.Limit {
				break
			}
			q.After = page[len(page)-1].Seq
		}
		if n >= 10000 {
			fmt.Fprintf(c.stderr, "exported %d records\n", n)
		}
		return nil
	})
	cmd.AddCommand(verify, export)
	return cmd
}

// parseRange parses the --since and --until flags (RFC 3339); either may
// be empty, the zero time.
func parseRange(since, until string) (from, to time.Time, err error) {
	for _, p := range []struct {
		s   string
		dst *time.Time
	}{{since, &from}, {until, &to}} {
		if p.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.s)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", p.s)
		}
		*p.dst = t
	}
	return from, to, nil
}
