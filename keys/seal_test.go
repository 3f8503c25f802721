package keys

import (
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	m, _, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := m.Seal("totp-secret/v1", "user-1", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "JBSWY3DP") || strings.Count(sealed, ".") != 4 {
		t.Fatalf("sealed = %q: want a compact JWE hiding the secret", sealed)
	}
	got, err := m.Open("totp-secret/v1", "user-1", sealed)
	if err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := m.Open("totp-secret/v1", "user-2", sealed); err == nil {
		t.Fatal("opened a value sealed for another record")
	}
	if _, err := m.Open("other/v1", "user-1", sealed); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("Open under another purpose: %v, want ErrMasterKey", err)
	}
	other, _, _ := NewMasterKey()
	if _, err := other.Open("totp-secret/v1", "user-1", sealed); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("Open under another master key: %v, want ErrMasterKey", err)
	}
}
