package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy decides which new passwords are acceptable, after NIST SP 800-63B
// (§5.1.1.2, and 800-63B-4 §3.1.1.2): a minimum and maximum length, a
// blocklist of common passwords and context-specific words, and no
// composition rules, which push users to predictable patterns.
type Policy struct {
	MinLength int // Unicode code points; default 8
	MaxLength int // Unicode code points; default 128 (must be >= 64)
}

// Bounds that NIST SP 800-63B sets on a verifier's policy.
const (
	nistMinLength = 8  // shortest minimum a verifier SHALL require
	nistMaxLength = 64 // longest maximum a verifier SHOULD at least permit
)

// usernameMinContained is the shortest username that Check looks for inside
// a password; a shorter one, such as "al", would reject too many ordinary
// passwords.
const usernameMinContained = 4

// Codes of PolicyError. They are stable: clients map them to their own
// translated messages.
const (
	codeTooShort         = "password_too_short"
	codeTooLong          = "password_too_long"
	codeInvalidUTF8      = "password_invalid_utf8"
	codeContainsUsername = "password_contains_username"
	codeCommon           = "password_common"
)

// DefaultPolicy returns a policy of 8 to 128 code points.
func DefaultPolicy() Policy {
	return Policy{MinLength: 8, MaxLength: 128}
}

// Validate reports whether p is a policy NIST SP 800-63B allows: MinLength at
// least 8, MaxLength at least 64 and not below MinLength.
func (p Policy) Validate() error {
	var errs []error
	if p.MinLength < nistMinLength {
		errs = append(errs, fmt.Errorf("password: policy MinLength %d is below the NIST SP 800-63B minimum of %d", p.MinLength, nistMinLength))
	}
	if p.MaxLength < nistMaxLength {
		errs = append(errs, fmt.Errorf("password: policy MaxLength %d is below the %d that NIST SP 800-63B says to permit", p.MaxLength, nistMaxLength))
	}
	if p.MaxLength < p.MinLength {
		errs = append(errs, fmt.Errorf("password: policy MaxLength %d is below MinLength %d", p.MaxLength, p.MinLength))
	}
	return errors.Join(errs...)
}

// PolicyError is why Check refused a password. Code is one of
// "password_too_short", "password_too_long", "password_invalid_utf8",
// "password_contains_username" or "password_common". Message is meant for
// the user and never includes the password.
type PolicyError struct {
	Code    string
	Message string
}

func (e *PolicyError) Error() string {
	return "password: " + e.Code + ": " + e.Message
}

// Check returns nil if password is acceptable for username under p, or else
// a *PolicyError. Length is counted in Unicode code points, so that a
// password in any script gets the same allowance. It rejects a password
// that is not valid UTF-8, is shorter than MinLength or longer than
// MaxLength, equals the username or, for a username of at least 4 code
// points, contains it, ignoring case; or that is in the built-in list of
// common passwords, ignoring case. There are no composition rules.
func (p Policy) Check(username, password string) error {
	// First, because code points cannot be counted in invalid UTF-8.
	if !utf8.ValidString(password) {
		return &PolicyError{codeInvalidUTF8, "Password contains bytes that are not valid text."}
	}
	n := utf8.RuneCountInString(password)
	if n < p.MinLength {
		return &PolicyError{codeTooShort, fmt.Sprintf("Password must be at least %d characters long.", p.MinLength)}
	}
	if n > p.MaxLength {
		return &PolicyError{codeTooLong, fmt.Sprintf("Password must be at most %d characters long.", p.MaxLength)}
	}
	if username != "" {
		lowerPassword, lowerUsername := strings.ToLower(password), strings.ToLower(username)
		if lowerPassword == lowerUsername ||
			(utf8.RuneCountInString(username) >= usernameMinContained && strings.Contains(lowerPassword, lowerUsername)) {
			return &PolicyError{codeContainsUsername, "Password must not contain your username."}
		}
	}
	if isCommon(password) {
		return &PolicyError{codeCommon, "This password is too common; choose one that is harder to guess."}
	}
	return nil
}
