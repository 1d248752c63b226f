package sdk

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Encoding is how a request body is written.
type Encoding int

const (
	// FormBody is application/x-www-form-urlencoded (RFC 6749 §4.4.2).
	FormBody Encoding = iota
	// JSONBody is application/json, as Pliant's and Intergiro's endpoints take.
	JSONBody
)

// ClientAuth is how a client's id and secret travel to the token endpoint.
type ClientAuth int

const (
	// AuthBasic sends them in an Authorization: Basic header, form-encoded
	// first (RFC 6749 §2.3.1), the method every server must support.
	AuthBasic ClientAuth = iota
	// AuthInBody sends client_id and client_secret among the body's fields.
	AuthInBody
)

// Shape is how a platform's token endpoints look: their paths, body
// encodings and field names. The presets are Gatehouse's own and the
// documented shapes of the reference platforms; a zero field takes
// Gatehouse's value.
type Shape struct {
	Name string
	// TokenPath is the client-credentials (and code exchange) endpoint,
	// joined to a config's BaseURL when it names no TokenURL.
	TokenPath string
	// LoginPath, RefreshPath and LogoutPath are the API-key session's.
	LoginPath, RefreshPath, LogoutPath string
	TokenBody                          Encoding
	ClientAuth                         ClientAuth
	// AccessTokenField and RefreshTokenField name the response fields.
	AccessTokenField, RefreshTokenField string
	// ExpiresFields are the fields that may carry the lifetime, first
	// found wins: seconds from now or, when over 10⁹, a Unix time. When
	// none is present the expiry is read from a JWT access token's exp;
	// failing that the token is reused until the server refuses it.
	ExpiresFields []string
	// APIKeyField names the API key in the login body.
	APIKeyField string
}

// Presets.
var (
	// Gatehouse: form bodies with HTTP Basic at /oauth2/token (JSON is
	// accepted too), API-key sessions at /auth/login, /auth/refresh and
	// /auth/logout.
	Gatehouse = Shape{Name: "gatehouse"}
	// IntigritiV1 is Intigriti's external API v1: client credentials in a
	// form body at /connect/token; its documented response names the
	// lifetime in seconds "expires_at" (1209600, 14 days) where RFC 6749
	// says "expires_in": both are read.
	IntigritiV1 = Shape{Name: "intigriti-v1", TokenPath: "/connect/token", TokenBody: FormBody, ClientAuth: AuthInBody,
		ExpiresFields: []string{"expires_in", "expires_at"}}
	// Pliant: client credentials in a JSON body with an audience at
	// /oauth/token (Auth0), expires_in in seconds.
	Pliant = Shape{Name: "pliant", TokenPath: "/oauth/token", TokenBody: JSONBody, ClientAuth: AuthInBody}
	// Intergiro: API-key login and refresh at /v3/auth/login and
	// /v3/auth/refresh with JSON bodies, answering an access and a refresh
	// JWT and no lifetime (it is read from the access token's exp).
	Intergiro = Shape{Name: "intergiro", LoginPath: "/v3/auth/login", RefreshPath: "/v3/auth/refresh", TokenBody: JSONBody}
)

// withDefaults fills the zero fields with Gatehouse's values.
func (s Shape) withDefaults() Shape {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.Name, "gatehouse")
	def(&s.TokenPath, "/oauth2/token")
	def(&s.LoginPath, "/auth/login")
	def(&s.RefreshPath, "/auth/refresh")
	def(&s.LogoutPath, strings.TrimSuffix(s.LoginPath, "login")+"logout")
	def(&s.AccessTokenField, "access_token")
	def(&s.RefreshTokenField, "refresh_token")
	def(&s.APIKeyField, "api_key")
	if len(s.ExpiresFields) == 0 {
		s.ExpiresFields = []string{"expires_in"}
	}
	return s
}

// errMalformed is a token response the SDK cannot use.
var errMalformed = errors.New("sdk: the token response is malformed")

// parseToken reads a token response of the shape.
func (s Shape) parseToken(body []byte, now time.Time) (*oauth2.Token, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	str := func(name string) string {
		var v string
		json.Unmarshal(m[name], &v) //nolint:errcheck // absent or not a string: ""
		return v
	}
	tok := &oauth2.Token{AccessToken: str(s.AccessTokenField), RefreshToken: str(s.RefreshTokenField), TokenType: str("token_type")}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("%w: no %s", errMalformed, s.AccessTokenField)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, fmt.Errorf("%w: token_type %q is not Bearer", errMalformed, tok.TokenType)
	}
	tok.TokenType = "Bearer"
	for _, f := range s.ExpiresFields {
		var n json.Number
		if json.Unmarshal(m[f], &n) != nil {
			continue
		}
		v, err := n.Float64()
		if err != nil || v <= 0 {
			continue
		}
		if v > 1e9 {
			tok.Expiry = time.Unix(int64(v), 0)
		} else {
			tok.Expiry = now.Add(time.Duration(v * float64(time.Second)))
		}
		break
	}
	if tok.Expiry.IsZero() {
		tok.Expiry = jwtExpiry(tok.AccessToken)
	}
	return tok, nil
}

// jwtExpiry is a JWT's exp, read without verifying it: only to know when
// to renew (the server verifies). Zero when tok is not a JWT with an exp.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Int64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(exp, 0)
}
