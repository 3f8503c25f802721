// Package config holds Tessera's configuration: one documented struct with
// secure defaults, loaded from a YAML file and overridden by TESSERA_*
// environment variables. Its Policy section is the whole lifecycle policy.
package config
