package config

// Audit configures the audit log (docs/audit.md).
type Audit struct {
	// Disabled turns the audit log off (default false: on). For
	// benchmarks and throwaway development servers only.
	Disabled bool `yaml:"disabled"`
	// Retention deletes records older than this, leaving a signed cut
	// checkpoint so the rest still verifies (default 0: keep forever).
	Retention Duration `yaml:"retention"`
	// Queue is how many records may wait to be written (default 8192; 0:
	// the default). See docs/audit.md for what a full queue does.
	Queue int `yaml:"queue"`
}
