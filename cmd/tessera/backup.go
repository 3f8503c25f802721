package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

func (c *cli) newBackupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent snapshot of the store to FILE while servers run",
		Long: `Write a consistent snapshot of the embedded SQLite store to FILE (which
must not exist), while servers keep running: it holds every committed
write, those still only in the write-ahead log included (a copy of
tessera.db alone does not). The file is mode 0600 and written whole or not
at all.

The backup holds the signing keys sealed under the master key, never the
master key or the admin token: back the master key up apart, and restore it
first (docs/operations.md). For a PostgreSQL store this prints how to use
pg_dump instead.`,
		Example: "  tessera backup /backups/tessera-$(date +%F).db --data /var/lib/tessera",
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c.flags)
			if err != nil {
				return err
			}
			if !app.IsSQLite(cfg) {
				fmt.Fprintln(c.stdout, app.PgDumpGuidance)
				return errors.New("no backup written: use pg_dump for a PostgreSQL store")
			}
			ctx := cmd.Context()
			_, st, err := openForCommand(ctx, c.flags)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := app.Backup(ctx, st, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "wrote %s\n", args[0])
			fmt.Fprintf(c.stderr, "Not in the backup: the master key (%s) and the admin token. A restore needs the master key: keep it backed up apart from this file.\n", masterKeyWhere(cfg))
			return nil
		},
	}
}

func (c *cli) newRestoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into an empty data folder",
		Long: `Restore a backup made by tessera backup into an empty data folder (or the
--store sqlite:PATH that does not exist yet). It refuses a folder that holds
anything but the master key and admin token, so never overwrites a running
server's data. It first checks, on a copy, that FILE is a Tessera database
with a schema this tessera knows (an older one is migrated) and that the
master key — TESSERA_MASTER_KEY, master_key_file, or DATA/master-key, which
you put in place first — opens its signing keys.`,
		Example: "  TESSERA_MASTER_KEY=… tessera restore /backups/tessera-2026-12-01.db --data /var/lib/tessera",
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c.flags)
			if err != nil {
				return err
			}
			info, err := app.Restore(cmd.Context(), cfg, args[0])
			if err != nil {
				return fmt.Errorf("restore refused: %w", err)
			}
			fmt.Fprintf(c.stdout, "restored %s into %s (schema version %d)\n", args[0], info.Location, info.Schema.Current)
			if ap := info.Applied; len(ap) > 0 {
				fmt.Fprintf(c.stdout, "  applied migrations %d to %d\n", ap[0], ap[len(ap)-1])
			}
			if info.SigningKeys > 0 {
				fmt.Fprintf(c.stdout, "  the master key from %s opens its %d signing keys\n", info.MasterSource, info.SigningKeys)
			}
			fmt.Fprintln(c.stdout, "  note: what was revoked after the backup was taken is live again in it (docs/operations.md, restore checklist)")
			return nil
		},
	}
}

// masterKeyWhere says where the master key comes from, without reading it.
func masterKeyWhere(cfg config.Config) string {
	if os.Getenv("TESSERA_MASTER_KEY") != "" {
		return "TESSERA_MASTER_KEY"
	}
	return app.MasterKeyPath(cfg)
}
