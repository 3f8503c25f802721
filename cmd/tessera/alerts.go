package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/store"
)

func (c *cli) newAlertsCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "alerts", Short: "List the alerts detection raised"})
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest first",
		Long: `List the stored alerts the filters select, newest first (at most --limit):
when, rule, severity, action taken, user, session and address. With -o json,
the admin API's alert objects (evidence included). Webhook delivery:
docs/webhooks.md.`,
		Args: noArgs,
	}
	var q store.AlertQuery
	var since, until string
	list.Flags().StringVar(&q.UserID, "user", "", "only alerts about this user id")
	list.Flags().StringVar(&q.SessionID, "session", "", "only alerts about this session id")
	list.Flags().StringVar(&q.Rule, "rule", "", "only alerts of this rule")
	list.Flags().StringVar(&q.Action, "action", "", "only alerts with this action taken (alert, step_up, revoke_session, revoke_user)")
	list.Flags().StringVar(&q.Severity, "severity", "", "only alerts of this severity (low, medium, high)")
	list.Flags().StringVar(&since, "since", "", "only alerts at or after this time (RFC 3339)")
	list.Flags().StringVar(&until, "until", "", "only alerts before this time (RFC 3339)")
	list.Flags().IntVar(&q.Limit, "limit", 100, "at most this many (1 to 10000)")
	out := addOutputFlag(list)
	// The filters are checked before the store is opened: a mistake is a
	// usage error (exit 2), and a value no alert can have (an unknown
	// severity, a misspelt action) is refused, not silently matched by
	// nothing, as GET /admin/v1/alerts refuses it.
	list.PreRunE = func(*cobra.Command, []string) error {
		if q.Limit < 1 || q.Limit > 10000 {
			return usagef("--limit must be between 1 and 10000")
		}
		switch q.Severity {
		case "", "low", "medium", "high":
		default:
			return usagef("--severity must be low, medium or high")
		}
		if q.Action != "" && !slices.Contains(config.DetectionActions, q.Action) {
			return usagef("--action must be one of %s", strings.Join(config.DetectionActions, ", "))
		}
		for _, f := range []struct{ name, v string }{{"--user", q.UserID}, {"--session", q.SessionID}, {"--rule", q.Rule}} {
			// What PostgreSQL cannot compare, or longer than any id.
			if len(f.v) > 256 || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
				return usagef("%s must be valid UTF-8 of at most 256 bytes", f.name)
			}
		}
		for _, f := range []struct{ name, v string }{{"--since", since}, {"--until", until}} {
			if _, _, err := parseRange(f.v, ""); err != nil {
				return usagef("%s: %v", f.name, err)
			}
		}
		return nil
	}
	list.RunE = c.onStore(openForCommand, func(ctx context.Context, _ config.Config, st store.Store, _ []string) error {
		var err error
		if q.Since, q.Until, err = parseRange(since, until); err != nil {
			return err
		}
		as, err := st.ListAlerts(ctx, q)
		if err != nil {
			return err
		}
		if *out == "json" {
			js := make([]server.AlertJSON, 0, len(as))
			for _, a := range as {
				js = append(js, server.AlertToJSON(a))
			}
			return writeJSON(c.stdout, js)
		}
		tw := newTable(c.stdout, "AT\tRULE\tSEVERITY\tACTION\tUSER\tSESSION\tIP")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.At.UTC().Format(time.RFC3339), a.Rule, a.Severity, a.Action,
				dash(a.UserID), dash(a.SessionID), dash(a.IP))
		}
		return tw.Flush()
	})
	cmd.AddCommand(list)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
