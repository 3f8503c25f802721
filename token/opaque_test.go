package token

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNewParseRoundTrip(t *testing.T) {
	for _, k := range []Kind{Session, Refresh, Access, MFA, ClientSecret, Admin} {
		tok, err := New(k)
		if err != nil {
			t.Fatal(err)
		}
		s := tok.Reveal()
		if len(s) != Len || !strings.HasPrefix(s, k.Prefix()) {
			t.Fatalf("%v: bad shape %d %q", k, len(s), s[:4])
		}
		got, err := Parse(k, s)
		if err != nil {
			t.Fatalf("%v: Parse(New()) = %v", k, err)
		}
		if got.Hash() != tok.Hash() || got.Kind() != k {
			t.Fatalf("%v: round trip changed the token", k)
		}
	}
}

func TestNewIsRandom(t *testing.T) {
	seen := map[string]bool{}
	// Each body character must take many values across tokens; a constant
	// or low-entropy generator fails this.
	chars := make([]map[byte]bool, bodyLen)
	for i := range chars {
		chars[i] = map[byte]bool{}
	}
	for range 2000 {
		tok, err := New(Session)
		if err != nil {
			t.Fatal(err)
		}
		s := tok.Reveal()
		if seen[s] {
			t.Fatal("duplicate token")
		}
		seen[s] = true
		for i := range bodyLen {
			chars[i][s[prefixLen+i]] = true
		}
	}
	for i, m := range chars {
		if len(m) < 55 {
			t.Errorf("position %d took only %d distinct values in 2000 tokens", i, len(m))
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := New(Session)
	s := good.Reveal()
	flip := func(i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"truncated", s[:Len-1], ErrMalformed},
		{"extended", s + "a", ErrMalformed},
		{"body typo", flip(10), ErrChecksum},
		{"checksum typo", flip(Len - 1), ErrChecksum},
		{"other kind", "tsr_" + s[4:], ErrKind},
		{"unknown prefix", "abc_" + s[4:], ErrMalformed},
		{"non-base62", s[:20] + "-" + s[21:], ErrMalformed},
		{"nul byte", s[:20] + "\x00" + s[21:], ErrMalformed},
		{"utf8", s[:20] + "é" + s[22:], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(Session, tt.in)
			if err != tt.want {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if !got.IsZero() {
				t.Fatal("a failed Parse returned a partial token")
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	tok, _ := New(Session)
	secret := tok.Reveal()[4:]
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tok", tok)
	for _, out := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), buf.String()} {
		if strings.Contains(out, secret) {
			t.Fatalf("token leaked in %q", out)
		}
		if !strings.Contains(out, "tss_REDACTED") {
			t.Fatalf("redacted form missing in %q", out)
		}
	}
}

func FuzzParse(f *testing.F) {
	tok, _ := New(Session)
	f.Add(tok.Reveal())
	f.Add("")
	f.Add("tss_")
	f.Add("tss_" + strings.Repeat("0", bodyLen+checksumLen))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(Session, s)
		if err != nil {
			if !got.IsZero() {
				t.Fatal("partial result on error")
			}
			return
		}
		if got.Reveal() != s || len(s) != Len || !strings.HasPrefix(s, "tss_") {
			t.Fatalf("accepted %q", s)
		}
		// Any accepted token must survive a second parse unchanged.
		if again, err := Parse(Session, got.Reveal()); err != nil || again != got {
			t.Fatal("Parse is not stable")
		}
	})
}
