package app_test

import (
	"testing"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

// TestRetryDefaultsAgree: the configuration's webhook retry defaults are
// alert's DefaultRetry, the schedule docs and alert's tests describe.
func TestRetryDefaultsAgree(t *testing.T) {
	if got, want := app.RetryPolicy(config.Default().Alerts), alert.DefaultRetry; got != want {
		t.Fatalf("config defaults %+v, alert defaults %+v", got, want)
	}
}
