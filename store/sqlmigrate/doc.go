// Package sqlmigrate reads the numbered SQL migrations a backend embeds
// (NNNN_name.sql), in version order. Applying them, the version table and
// the locking that keeps two nodes from migrating at once stay in each
// backend: they are dialect and mechanism.
package sqlmigrate
