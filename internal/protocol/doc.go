// Package protocol owns the OAuth 2.0 vocabulary shared by every surface:
// protocol errors as values with one writer for each rendering (RFC 6749
// §5.2 JSON bodies, RFC 6750 WWW-Authenticate challenges), and the decoding
// of form-or-JSON request bodies with repeats refused and a size cap.
package protocol
