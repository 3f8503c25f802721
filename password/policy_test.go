package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Policy
		wantErr string // substring; "" means valid
	}{
		{"default", DefaultPolicy(), ""},
		{"NIST floor", Policy{MinLength: 8, MaxLength: 64}, ""},
		{"800-63B-4 single factor", Policy{MinLength: 15, MaxLength: 256}, ""},
		{"min below 8", Policy{MinLength: 7, MaxLength: 128}, "MinLength 7"},
		{"max below 64", Policy{MinLength: 8, MaxLength: 63}, "MaxLength 63"},
		{"max below min", Policy{MinLength: 100, MaxLength: 64}, "below MinLength"},
		{"zero value", Policy{}, "MinLength 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%+v) = %v, want an error containing %q", tt.p, err, tt.wantErr)
			}
		})
	}
	if got := DefaultPolicy(); got != (Policy{MinLength: 8, MaxLength: 128}) {
		t.Fatalf("DefaultPolicy() = %+v", got)
	}
}

func TestPolicyCheck(t *testing.T) {
	const emoji = "😀" // one code point, four bytes
	tests := []struct {
		name               string
		policy             Policy
		username, password string
		wantCode           string // "" means accepted
	}{
		{"passphrase", DefaultPolicy(), "alice", "correct horse battery staple", ""},
		{"no composition rules", DefaultPolicy(), "alice", "kqzvjxwpm", ""},
		{"exactly min", DefaultPolicy(), "alice", "kqzvjxwp", ""},
		{"one below min", DefaultPolicy(), "alice", "kqzvjxw", codeTooShort},
		{"empty", DefaultPolicy(), "alice", "", codeTooShort},
		{"exactly max", DefaultPolicy(), "alice", strings.Repeat("x", 128), ""},
		{"one above max", DefaultPolicy(), "alice", strings.Repeat("x", 129), codeTooLong},

		// Lengths are code points: these fail if bytes are counted.
		{"8 emoji", DefaultPolicy(), "alice", strings.Repeat(emoji, 8), ""},
		{"7 emoji is 28 bytes but too short", DefaultPolicy(), "alice", strings.Repeat(emoji, 7), codeTooShort},
		{"128 emoji is 512 bytes but fits", DefaultPolicy(), "alice", strings.Repeat(emoji, 128), ""},
		{"129 emoji", DefaultPolicy(), "alice", strings.Repeat(emoji, 129), codeTooLong},
		{"cyrillic", DefaultPolicy(), "alice", "пароль12", ""},
		{"spaces count", DefaultPolicy(), "alice", "a b c d ", ""},
		{"custom min", Policy{MinLength: 15, MaxLength: 64}, "alice", "fourteen-chars", codeTooShort},

		{"invalid utf-8", DefaultPolicy(), "alice", "kqzvjxwp\xff", codeInvalidUTF8},
		{"truncated utf-8", DefaultPolicy(), "alice", "kqzvjxwp" + emoji[:3], codeInvalidUTF8},
		{"short invalid utf-8", DefaultPolicy(), "alice", "\xc3", codeInvalidUTF8},

		{"equals username", DefaultPolicy(), "mallory-the-great", "mallory-the-great", codeContainsUsername},
		{"equals username ignoring case", DefaultPolicy(), "Mallory-The-Great", "mALLORY-tHE-gREAT", codeContainsUsername},
		{"contains username", DefaultPolicy(), "mallory", "xx-mallory-2024", codeContainsUsername},
		{"contains username ignoring case", DefaultPolicy(), "Mallory", "xxMALLORYxx2024", codeContainsUsername},
		{"contains 4-char username", DefaultPolicy(), "dave", "kqzdavevjx", codeContainsUsername},
		{"contains non-ascii username ignoring case", DefaultPolicy(), "ÉLODIE", "mon-élodie-secret", codeContainsUsername},
		{"3-char username may be contained", DefaultPolicy(), "bob", "kqzbobvjxw", ""},
		{"3-code-point username is 6 bytes", DefaultPolicy(), "日本語", "kqz日本語vjxw", ""},
		{"no username", DefaultPolicy(), "", "correct horse battery staple", ""},

		{"common", DefaultPolicy(), "alice", "password", codeCommon},
		{"common ignoring case", DefaultPolicy(), "alice", "PassWord", codeCommon},
		{"common digits", DefaultPolicy(), "alice", "12345678", codeCommon},
		{"common keyboard walk", DefaultPolicy(), "alice", "qwertyuiop", codeCommon},
		{"common with digit", DefaultPolicy(), "alice", "Password1", codeCommon},
		{"common upper-case", DefaultPolicy(), "alice", "ILOVEYOU", codeCommon},
		{"common with suffix is not common", DefaultPolicy(), "alice", "password-for-tessera", ""},

		// Order: length before the list, so a user is told the rule that
		// matters most.
		{"short and common", DefaultPolicy(), "alice", "123456", codeTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.username, tt.password)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Check(%q, %q) = %v, want nil", tt.username, tt.password, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q, %q) = %v, want a *PolicyError with code %s", tt.username, tt.password, err, tt.wantCode)
			}
			if pe.Code != tt.wantCode {
				t.Fatalf("Check(%q, %q) code = %s, want %s", tt.username, tt.password, pe.Code, tt.wantCode)
			}
			if pe.Message == "" {
				t.Fatal("empty Message")
			}
			if !strings.Contains(pe.Error(), pe.Code) {
				t.Fatalf("Error() = %q does not name the code", pe.Error())
			}
		})
	}
}

// TestPolicyErrorOmitsPassword uses a distinctive password for each rule, so
// that the check cannot pass or fail by chance on a word like "password".
func TestPolicyErrorOmitsPassword(t *testing.T) {
	tests := []struct {
		username, password, code string
	}{
		{"alice", "Zq9#lk", codeTooShort},
		{"alice", strings.Repeat("Zq9#", 40), codeTooLong},
		{"alice", "Zq9#leak\xff", codeInvalidUTF8},
		{"zq9#leak", "Zq9#LEAK-canary", codeContainsUsername},
		{"alice", "trustno1", codeCommon},
	}
	for _, tt := range tests {
		var pe *PolicyError
		if err := DefaultPolicy().Check(tt.username, tt.password); !errors.As(err, &pe) || pe.Code != tt.code {
			t.Fatalf("Check(%q, %q) = %v, want code %s", tt.username, tt.password, err, tt.code)
		}
		for _, s := range []string{pe.Message, pe.Error()} {
			if strings.Contains(strings.ToLower(s), strings.ToLower(tt.password)) ||
				(len(tt.password) > 8 && strings.Contains(strings.ToLower(s), strings.ToLower(tt.password[:8]))) {
				t.Errorf("%s: %q repeats the password", tt.code, s)
			}
		}
	}
}

func TestCommonPasswordList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 3000 {
		t.Fatalf("common password list has %d entries, want the ~3,300 of SecLists' top 10,000 that are 8+ characters", len(set))
	}
	for pw := range set {
		if pw != strings.ToLower(pw) {
			t.Errorf("entry %q is not lower-case, so Check could never match it", pw)
		}
		if n := utf8.RuneCountInString(pw); n < nistMinLength {
			t.Errorf("entry %q is shorter than any policy allows", pw)
		}
		if strings.HasPrefix(pw, "#") || strings.TrimSpace(pw) != pw {
			t.Errorf("entry %q looks like a comment or has stray spaces", pw)
		}
	}
	for _, pw := range []string{"password", "12345678", "iloveyou", "sunshine", "trustno1"} {
		if !isCommon(pw) {
			t.Errorf("isCommon(%q) = false", pw)
		}
	}
}
