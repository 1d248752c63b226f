package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxBodyBytes caps every OAuth request body (64 KiB).
const MaxBodyBytes = 64 << 10

// Params are the single-valued parameters of an OAuth request.
type Params map[string]string

// Get returns a parameter, "" when absent. RFC 6749 §3.1: "Parameters sent
// without a value MUST be treated as if they were omitted from the request."
func (p Params) Get(k string) string { return p[k] }

// ParseBody reads an application/x-www-form-urlencoded or application/json
// request body into Params. RFC 6749 §3.1: "Request and response parameters
// MUST NOT be included more than once", so a repeated parameter is an
// invalid_request, except those named in multi (RFC 8707's resource), whose
// values are joined with spaces. JSON values must be strings (arrays of
// strings are joined with spaces, the scope list shape). Bodies over
// MaxBodyBytes get 413.
func ParseBody(w http.ResponseWriter, r *http.Request, multi ...string) (Params, *Error) {
	if r.Method != http.MethodPost {
		return nil, ErrMethodNotAllowed.WithDescription("use POST")
	}
	// RFC 6749 §5.2: a request the endpoint cannot read is
	// invalid_request, 400 (not HTTP's 415), as integrators' clients expect.
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return nil, ErrInvalidRequest.WithDescription("malformed Content-Type")
	}
	if ct != "application/x-www-form-urlencoded" && ct != "application/json" {
		return nil, ErrInvalidRequest.WithDescription("Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, ErrRequestTooLarge.WithDescription("request body exceeds 64 KiB")
		}
		return nil, ErrInvalidRequest.WithDescription("cannot read request body")
	}
	if ct == "application/json" {
		return ParseJSON(body)
	}
	return ParseForm(body, multi...)
}

// ParseForm decodes a form body, refusing repeated parameters other than
// those named in multi.
func ParseForm(body []byte, multi ...string) (Params, *Error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ErrInvalidRequest.WithDescription("malformed form body")
	}
	p := make(Params, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 && !slices.Contains(multi, k) {
			return nil, ErrInvalidRequest.WithDescription("parameter " + safe(k) + " is repeated")
		}
		if v := strings.TrimSpace(strings.Join(vs, " ")); v != "" {
			p[k] = v
		}
	}
	return p, nil
}

// ParseJSON decodes a flat JSON object body, refusing repeated keys.
func ParseJSON(body []byte) (Params, *Error) {
	bad := ErrInvalidRequest.WithDescription("body must be a JSON object of string parameters")
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad
	}
	p := Params{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		k := t.(string) // object keys are always strings
		if seen[k] {
			return nil, ErrInvalidRequest.WithDescription("parameter " + safe(k) + " is repeated")
		}
		seen[k] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad
		}
		v, ok := jsonString(raw)
		if !ok {
			return nil, ErrInvalidRequest.WithDescription("parameter " + safe(k) + " must be a string")
		}
		if v != "" {
			p[k] = v
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, bad
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad
	}
	return p, nil
}

// jsonString accepts a string, null (as omitted), a number (some clients
// send numeric values unquoted) or an array of strings joined by spaces.
func jsonString(raw json.RawMessage) (string, bool) {
	if string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		out := ""
		for i, v := range list {
			if i > 0 {
				out += " "
			}
			out += v
		}
		return out, true
	}
	return "", false
}

// safe trims a client-supplied name before it is echoed in a description.
func safe(s string) string { return quote(Clean(s, 40)) }
