package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every JSON request body. Nothing Tessera accepts is near it.
const maxBody = 64 << 10

// decodeJSON reads r's body into dst strictly: JSON media type, at most
// maxBody bytes, valid UTF-8 (encoding/json would silently replace invalid
// bytes), known fields spelt exactly, no member name twice, one value. dst
// is written only on success.
func decodeJSON[T any](w http.ResponseWriter, r *http.Request, dst *T) *problem {
	if p := checkJSONType(r.Header.Get("Content-Type")); p != nil {
		return p
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newProblem(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body exceeds %d bytes.", maxBody))
		}
		return newProblem(http.StatusBadRequest, "bad_body", "The request body could not be read.")
	}
	return decodeBytes(body, dst)
}

func checkJSONType(ct string) *problem {
	if ct == "" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send Content-Type: application/json.")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send Content-Type: application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "JSON must be UTF-8.")
	}
	return nil
}

func decodeBytes[T any](body []byte, dst *T) *problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return newProblem(http.StatusBadRequest, "missing_body", "The request body is empty; a JSON object is required.")
	}
	if !utf8.Valid(body) {
		return newProblem(http.StatusBadRequest, "invalid_utf8", "The request body is not valid UTF-8.")
	}
	if p := checkMembers(body, reflect.TypeFor[T]()); p != nil {
		return p
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return newProblem(http.StatusBadRequest, "malformed_json", "The request body holds more than one JSON value.")
	}
	*dst = v
	return nil
}

func jsonProblem(err error) *problem {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var p *problem
	switch {
	case errors.As(err, &p): // a type's UnmarshalJSON said what is wrong
		return p
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, "malformed_json", "The request body is not well-formed JSON.")
	case errors.As(err, &te):
		if te.Field == "" {
			return newProblem(http.StatusBadRequest, "malformed_json", "The request body must be a JSON object.")
		}
		return newProblem(http.StatusBadRequest, "invalid_field", fmt.Sprintf("Field %q must be a JSON %s.", te.Field, jsonKind(te.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if len(name) > 66 {
			name = name[:64] + `…"`
		}
		return newProblem(http.StatusBadRequest, "unknown_field", "Unknown field "+name+".")
	}
	return newProblem(http.StatusBadRequest, "malformed_json", "The request body is not valid JSON for this endpoint.")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	}
	return "number"
}
