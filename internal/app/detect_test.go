package app_test

import (
	"reflect"
	"testing"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/internal/app"
)

// TestDetectionDefaultsAgree: the configuration's defaults are detect's
// default policy, the one docs/detection.md and detect's tests describe.
func TestDetectionDefaultsAgree(t *testing.T) {
	got, want := app.DetectionPolicy(config.Default().Detection), detect.DefaultPolicy()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config defaults:\n%+v\ndetect defaults:\n%+v", got, want)
	}
}
