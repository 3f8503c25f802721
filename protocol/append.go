package protocol

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The hottest answers (whoami, introspection) are appended by hand instead
// of going through encoding/json's reflection (about 4x faster). Tests
// check them against encoding/json, with every field filled by reflection
// so that a field added to a type cannot be silently dropped here.

// AppendWhoami appends r as encoding/json would, with its trailing newline,
// except that a nil AMR is written as [] (the server never sends null).
func AppendWhoami(b []byte, r *Whoami) []byte {
	s := &r.Session
	b = append(b, `{"session":{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"user_id":`...)
	b = appendString(b, s.UserID)
	b = appendTimeField(b, `,"created_at":`, s.CreatedAt)
	b = appendTimeField(b, `,"expires_at":`, s.ExpiresAt)
	b = appendTimeField(b, `,"idle_expires_at":`, s.IdleExpiresAt)
	b = appendTimeField(b, `,"last_seen_at":`, s.LastSeenAt)
	b = appendTimeField(b, `,"auth_time":`, s.AuthTime)
	b = append(b, `,"amr":[`...)
	for i, m := range s.AMR {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m)
	}
	b = append(b, `],"aal":`...)
	b = strconv.AppendInt(b, int64(s.AAL), 10)
	if s.StepUpRequired {
		b = append(b, `,"step_up_required":true`...)
	}
	b = append(b, `},"user":{"id":`...)
	b = appendString(b, r.User.ID)
	b = append(b, `,"username":`...)
	b = appendString(b, r.User.Username)
	b = append(b, '}')
	if r.CSRFToken != "" {
		b = append(b, `,"csrf_token":`...)
		b = appendString(b, r.CSRFToken)
	}
	return append(b, "}\n"...)
}

func appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, name...)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes encoding/json writes as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaping as encoding/json does
// (including <, > and & for HTML safety, and invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendIntrospection appends r as encoding/json would (field order,
// omitempty, a single audience as a string), with its trailing newline.
func AppendIntrospection(b []byte, r *Introspection) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, r.Active)
	b = appendStringField(b, `,"scope":`, r.Scope)
	b = appendStringField(b, `,"client_id":`, r.ClientID)
	b = appendStringField(b, `,"username":`, r.Username)
	b = appendStringField(b, `,"token_type":`, r.TokenType)
	b = appendIntField(b, `,"exp":`, r.Exp)
	b = appendIntField(b, `,"iat":`, r.Iat)
	b = appendStringField(b, `,"sub":`, r.Sub)
	switch len(r.Aud) {
	case 0:
	case 1:
		b = append(b, `,"aud":`...)
		b = appendString(b, r.Aud[0])
	default:
		b = append(b, `,"aud":[`...)
		for i, a := range r.Aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = appendStringField(b, `,"iss":`, r.Iss)
	b = appendStringField(b, `,"jti":`, r.Jti)
	b = appendStringField(b, `,"sid":`, r.Sid)
	b = appendIntField(b, `,"auth_time":`, r.AuthTime)
	b = appendStringField(b, `,"acr":`, r.ACR)
	if len(r.AMR) > 0 {
		b = append(b, `,"amr":[`...)
		for i, m := range r.AMR {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendStringField appends an omitempty string field.
func appendStringField(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, name...), s)
}

// appendIntField appends an omitempty integer field.
func appendIntField(b []byte, name string, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, name...), n, 10)
}
