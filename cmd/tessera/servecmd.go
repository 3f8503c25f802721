package main

import "github.com/spf13/cobra"

// serveFlags are serve's own flags, applied over the configuration.
type serveFlags struct {
	listen, adminListen string
	insecure            bool
}

func (c *cli) newServeCmd() *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: the public API and the admin API",
		Long: `Run the server: the public API (default 127.0.0.1:8080) and the admin API
(default 127.0.0.1:8081). On first start it creates the data folder, the
database, the admin token and the master key (files of mode 0600).`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return cmdServe(c.flags, sf, c.stdout, c.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sf.listen, "listen", "", "public API address (default 127.0.0.1:8080)")
	f.StringVar(&sf.adminListen, "admin-listen", "", "admin API address (default 127.0.0.1:8081)")
	f.BoolVar(&sf.insecure, "insecure-dev-cookies", false, "drop Secure from cookies for plain-HTTP local development (never in production)")
	return cmd
}
