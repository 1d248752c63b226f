package protocol

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// DecodeJSON reads a JSON object body into v for the JSON APIs (admin,
// self-service): application/json only (415), at most limit bytes (413),
// no unknown fields and nothing after the value (400).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return ErrUnsupportedMediaType.WithDescription("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return ErrRequestTooLarge.WithDescription("request body exceeds " + strconv.FormatInt(limit, 10) + " bytes")
		}
		return ErrInvalidRequest.WithDescription("malformed JSON body: " + Clean(err.Error(), 200))
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrInvalidRequest.WithDescription("malformed JSON body: trailing data")
	}
	return nil
}
