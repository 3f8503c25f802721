package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// outputFlag is --output (-o) of the list commands: text for people, json
// for programs (an array of objects with stable snake_case field names and
// RFC 3339 times in UTC).
type outputFlag string

func (o *outputFlag) String() string { return string(*o) }
func (o *outputFlag) Type() string   { return "format" }
func (o *outputFlag) Set(v string) error {
	switch v {
	case "text", "json":
		*o = outputFlag(v)
		return nil
	}
	return fmt.Errorf("want text or json, not %q", v)
}

func addOutputFlag(cmd *cobra.Command) *outputFlag {
	o := outputFlag("text")
	cmd.Flags().VarP(&o, "output", "o", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return &o
}

// newTable starts the text output of a list command: the columns, tab
// separated and headed by header, are aligned when it is flushed.
func newTable(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// writeJSON writes v, a slice, as an indented JSON array ("[]" when empty).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonTime is a time for --output json: RFC 3339 in UTC, omitted when zero.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// orEmpty keeps a nil list from encoding as null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
