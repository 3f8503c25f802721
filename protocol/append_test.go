package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
)

func TestAppendWhoamiMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 6, 1, 8, 0, 0, 123456000, time.UTC)
	for _, r := range []Whoami{
		{
			Session: Session{ID: "01a2", UserID: "u1", CreatedAt: ts, ExpiresAt: ts.Add(time.Hour), IdleExpiresAt: ts, LastSeenAt: ts, AuthTime: ts, AMR: []string{"pwd", "otp"}, AAL: 2},
			User:    User{ID: "u1", Username: "alice"},
		},
		{
			Session: Session{ID: "01a3", AMR: []string{"pwd"}, AAL: 1, StepUpRequired: true},
			User:    User{ID: "u1", Username: "alice"},
		},
		{
			Session:   Session{ID: "x\"\\\n\r\t\x01<>&\u2028\u2029é\xff", AMR: []string{}},
			User:      User{Username: "日本\x7f"},
			CSRFToken: "abc_-",
		},
	} {
		want, _ := json.Marshal(r)
		got := AppendWhoami(nil, &r)
		if !bytes.Equal(bytes.TrimSpace(got), want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

func TestAppendIntrospectionMatchesEncodingJSON(t *testing.T) {
	for _, r := range []Introspection{
		{},
		{Active: true, Scope: "read write", ClientID: "tessera", Username: "ian", TokenType: "Bearer", Exp: 1790000900, Iat: 1790000000,
			Sub: "u1", Aud: accesstoken.Audience{"https://api.example"}, Iss: "https://auth.example", Jti: "j1", Sid: "s1"},
		{Active: true, TokenType: "session", Sub: "u1", Username: "日本\x7f", Sid: "s", Exp: 1, Iat: -1, Iss: "x"},
		{Active: true, Aud: accesstoken.Audience{"a", "b<>&", ""}, Scope: "x\"\\\n\r\t\x01\u2028\u2029é\xff"},
		{Active: true, Aud: accesstoken.Audience{}},
		{Active: false, Aud: accesstoken.Audience{""}},
	} {
		var want bytes.Buffer
		json.NewEncoder(&want).Encode(r) // what writeJSON sent
		if got := AppendIntrospection(nil, &r); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f", "<script>", "\xff\xfe", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestAppendersCarryEveryField fills every field of each hand-encoded type
// by reflection, encodes it with the hand-written encoder and decodes it
// with encoding/json: a field added to a type but not to its encoder comes
// back empty and fails this test.
func TestAppendersCarryEveryField(t *testing.T) {
	t.Run("Whoami", func(t *testing.T) {
		var w Whoami
		roundTrip(t, &w, AppendWhoami)
	})
	t.Run("Introspection", func(t *testing.T) {
		var in Introspection
		roundTrip(t, &in, AppendIntrospection)
	})
	t.Run("Introspection with one audience", func(t *testing.T) {
		var in Introspection
		fill(t, reflect.ValueOf(&in).Elem(), new(int))
		in.Aud = in.Aud[:1] // written as a string, not an array
		compare(t, &in, AppendIntrospection)
	})
}

func roundTrip[T any](t *testing.T, v *T, appendJSON func([]byte, *T) []byte) {
	t.Helper()
	fill(t, reflect.ValueOf(v).Elem(), new(int))
	compare(t, v, appendJSON)
}

func compare[T any](t *testing.T, v *T, appendJSON func([]byte, *T) []byte) {
	t.Helper()
	got := appendJSON(nil, v)
	var back T
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("hand-written encoding does not decode: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(&back, v) {
		t.Fatalf("a field was lost or changed by the hand-written encoder:\n sent %+v\n  got %+v\n json %s", *v, back, got)
	}
	var want bytes.Buffer
	json.NewEncoder(&want).Encode(v)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
	}
}

// fill sets every field reachable from v to a non-zero value, distinct per
// field (n counts them), and fails on a kind it does not know, so that a new
// kind of field cannot escape the test by staying zero.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 6, 1, 8, 0, *n, *n*1000, time.UTC)))
		return
	case v.Type() == reflect.TypeFor[accesstoken.Audience]():
		v.Set(reflect.ValueOf(accesstoken.Audience{fmt.Sprintf("https://aud%d.example", *n), "b<&>"}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s is unexported: teach fill and the encoder about it", v.Type(), v.Type().Field(i).Name)
			}
			fill(t, v.Field(i), n)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d \"<é>\"\n", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(1000 + *n))
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			t.Fatalf("fill: slice of %s: teach fill about it", v.Type().Elem())
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(t, s.Index(0), n)
		fill(t, s.Index(1), n)
		v.Set(s)
	default:
		t.Fatalf("fill: %s (%s): teach fill about this kind", v.Type(), v.Kind())
	}
	if v.IsZero() {
		t.Fatalf("fill left %s zero", v.Type())
	}
}
