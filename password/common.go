package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsText holds the most common passwords from SecLists' top
// 10,000, lower-cased. Entries shorter than 8 characters were dropped to save
// space: Policy.Validate refuses a MinLength below 8, so Check would reject
// them as too short before looking them up. Its source and licence are in
// commonpasswords.LICENSE.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords is built on first use so that processes that never check a
// new password, such as a token-only replica, do not pay for the map.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonPasswordsText, "\n"))
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// isCommon reports whether password, lower-cased, is in the embedded list.
func isCommon(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
