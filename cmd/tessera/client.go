package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

func (c *cli) newClientCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "client", Short: "Register and list OAuth clients"})
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register an OAuth client and print its id and (once) its secret",
		Long: `Register an OAuth client and print its id and, for a confidential client,
its secret: only a keyed hash of the secret is kept, so store it now.`,
		Example: `  tessera client add billing --scope invoices.read,invoices.write
  tessera client add spa --public --grant refresh_token --first-party --resource https://notes.example.com
  tessera client add notes-api --introspect --revocation-feed --audience https://notes.example.com`,
		Args: exactArgs("NAME"),
	}
	f := add.Flags()
	// StringSlice: repeatable and comma-separable, as before.
	grants := f.StringSlice("grant", nil, "allowed grant type: client_credentials (default) or refresh_token; repeatable")
	scopes := f.StringSlice("scope", nil, "allowed scope; repeatable or comma-separated")
	public := f.Bool("public", false, "a public client (SPA, mobile app): no secret")
	secretStdin := f.Bool("secret-stdin", false, "read the client secret from stdin instead of generating one")
	format := f.String("token-format", "jwt", "access tokens: jwt (verified locally) or opaque (validated by introspection)")
	introspect := f.Bool("introspect", false, "allow this (confidential) client to call token introspection: a resource server's permission")
	resources := f.StringSlice("resource", nil, "an RFC 8707 resource (absolute URI) this client may request tokens for; repeatable")
	audience := f.String("audience", "", "the resource (absolute URI) this client serves as a resource server; introspection then shows tokens restricted to it")
	firstParty := f.Bool("first-party", false, "your own application: only first-party clients may log users in with a password (/v1/login; RFC 9700 §2.4)")
	feed := f.Bool("revocation-feed", false, "allow this (confidential) client to read the revocation feed: a verifier's permission (the SDK's Revocations)")
	add.RegisterFlagCompletionFunc("grant", cobra.FixedCompletions([]string{"client_credentials", "refresh_token"}, cobra.ShellCompDirectiveNoFileComp))
	add.RegisterFlagCompletionFunc("token-format", cobra.FixedCompletions([]string{"jwt", "opaque"}, cobra.ShellCompDirectiveNoFileComp))
	// The secret is read before the store is opened: a command that fails
	// for want of one leaves no fresh data folder behind.
	var secret string
	create := c.onStore(openCreating, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
		ev := c.events(cfg, st)
		kr, err := openKeyset(ctx, cfg, st, nil, ev)
		if err != nil {
			return err
		}
		svc, _, err := newOAuth(cfg, st, kr, nil, ev, nil)
		if err != nil {
			return err
		}
		cl, sec, err := svc.RegisterClient(ctx, oauth.ClientSpec{Name: args[0], Grants: trimAll(*grants), Scopes: trimAll(*scopes),
			Public: *public, Secret: secret, TokenFormat: *format, Introspect: *introspect, Resources: trimAll(*resources), Audience: *audience,
			FirstParty: *firstParty, RevocationFeed: *feed})
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return errors.New(oe.Description)
		}
		if err != nil {
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionClientRegister, ClientID: cl.ID})
		fmt.Fprintf(c.stdout, "client_id:     %s\n", cl.ID)
		if sec != "" && !*secretStdin {
			fmt.Fprintf(c.stdout, "client_secret: %s\n", sec)
			fmt.Fprintln(c.stderr, "Store the secret now: only a keyed hash of it is kept.")
		}
		return nil
	})
	add.RunE = func(cmd *cobra.Command, args []string) error {
		if *secretStdin {
			var err error
			if secret, err = readPassword(c.stdin, c.stderr, true); err != nil {
				return err
			}
		}
		return create(cmd, args)
	}

	list := c.newListCmd("list", "List OAuth clients", func(ctx context.Context, cfg config.Config, st store.Store, out outputFlag) error {
		cs, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		// client_id, client_name and grant_types are RFC 7591 metadata names.
		type clientJSON struct {
			ClientID    string     `json:"client_id"`
			ClientName  string     `json:"client_name"`
			Type        string     `json:"client_type"`
			GrantTypes  []string   `json:"grant_types"`
			Scopes      []string   `json:"scopes"`
			TokenFormat string     `json:"token_format"`
			Introspect  bool       `json:"introspect"`
			Feed        bool       `json:"revocation_feed"`
			FirstParty  bool       `json:"first_party"`
			Resources   []string   `json:"resources"`
			Audience    string     `json:"audience,omitempty"`
			CreatedAt   *time.Time `json:"created_at,omitempty"`
		}
		// The first party (Tessera's own login) is a client too, kept by
		// configuration rather than in the store.
		fp := clientJSON{ClientID: cfg.Policy.Tokens.FirstPartyClientID, ClientName: "Tessera (first-party login)", Type: "public", GrantTypes: []string{"refresh_token"}, Scopes: []string{}, TokenFormat: "jwt", FirstParty: true, Resources: []string{}}
		if out != "json" {
			fmt.Fprintf(c.stdout, "%s\t%s\t%s\tgrants=%s\tscopes=\tfirst_party\n", fp.ClientID, fp.ClientName, fp.Type, strings.Join(fp.GrantTypes, ","))
		}
		js := make([]clientJSON, 0, len(cs)+1)
		js = append(js, fp)
		for _, x := range cs {
			kind := "confidential"
			if x.SecretHash == nil {
				kind = "public"
			}
			if out != "json" {
				extra := ""
				if x.FirstParty {
					extra += "\tfirst_party"
				}
				if x.Introspect {
					extra += "\tintrospect"
				}
				if x.RevocationFeed {
					extra += "\trevocation_feed"
				}
				if len(x.Resources) > 0 {
					extra += "\tresources=" + strings.Join(x.Resources, ",")
				}
				if x.Audience != "" {
					extra += "\taudience=" + x.Audience
				}
				fmt.Fprintf(c.stdout, "%s\t%s\t%s\tgrants=%s\tscopes=%s%s\n", x.ID, x.Name, kind, strings.Join(x.Grants, ","), strings.Join(x.Scopes, ","), extra)
			}
			js = append(js, clientJSON{x.ID, x.Name, kind, orEmpty(x.Grants), orEmpty(x.Scopes), x.TokenFormat, x.Introspect, x.RevocationFeed, x.FirstParty, orEmpty(x.Resources), x.Audience, jsonTime(x.CreatedAt)})
		}
		if out == "json" {
			return writeJSON(c.stdout, js)
		}
		return nil
	})
	cmd.AddCommand(add, list)
	cmd.AddCommand(c.newClientLifecycleCmds()...)
	return cmd
}

// trimAll drops the spaces around and the empty items of a comma-separated
// flag's values ("a, b,,c").
func trimAll(l []string) []string {
	var out []string
	for _, s := range l {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
