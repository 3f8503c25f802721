package audit

import (
	"encoding/hex"
	"encoding/json"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and numbers reach here
	}
	return b
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
