package clients

import (
	"strings"
	"testing"
)

func TestCheckRedirectURI(t *testing.T) {
	strict, http, local := RedirectPolicy{}, RedirectPolicy{AllowHTTP: true}, RedirectPolicy{AllowHTTP: true, AllowLocal: true}
	for _, tc := range []struct {
		uri  string
		p    RedirectPolicy
		want string // "" = accepted, else part of the error
	}{
		{"https://app.example/cb", strict, ""},
		{"https://app.example/cb/", strict, ""},
		{"https://App.Example/Cb?x=1", strict, ""},
		{"https://evil.example/cb", strict, ""}, // registering is fine; matching is exact
		{"http://app.example/cb", strict, "must be https"},
		{"http://app.example/cb", http, ""},
		{"https://app.example/cb#frag", strict, "fragment"},
		{"https://app.example/cb#", strict, "fragment"},
		{"https://app.example@evil.example/", strict, "user information"},
		{"https://user:pw@app.example/", strict, "user information"},
		{"https://localhost/cb", strict, "localhost"},
		{"https://LOCALHOST./cb", strict, "localhost"},
		{"https://app.localhost/cb", strict, "localhost"},
		{"https://127.0.0.1/cb", strict, "loopback"},
		{"https://127.1.2.3:8443/cb", strict, "loopback"},
		{"https://[::1]/cb", strict, "loopback"},
		{"https://[::ffff:127.0.0.1]/cb", strict, "loopback"},
		{"https://10.0.0.8/cb", strict, "private"},
		{"https://192.168.1.1/cb", strict, "private"},
		{"https://169.254.169.254/latest", strict, "private"},
		{"https://[fe80::1]/cb", strict, "private"},
		{"https://0.0.0.0/cb", strict, "private"},
		{"https://2130706433/cb", strict, "private"},
		{"https://0x7f.1/cb", strict, "private"},
		{"https://127.0.0.1.nip.io/cb", strict, "private"},
		{"https://app.127.0.0.1.sslip.io/cb", strict, "private"},
		{"http://localhost:3000/cb", local, ""},
		{"https://bücher.example/cb", strict, "non-ASCII"},
		{"https://xn--bcher-kva.example/cb", strict, ""},
		{"https://cafe.be/cb", strict, ""},
		{"https://app.example/c\u202eb", strict, "non-ASCII"},
		{"https://app.example/ cb", strict, "no spaces"},
		{"https:\\\\evil.example", strict, "backslashes"},
		{"javascript:alert(1)", strict, "absolute URL"},
		{"ftp://app.example/cb", strict, "https://"},
		{"/relative/cb", strict, "absolute URL"},
		{"https:///cb", strict, "host"},
		{"https://app.example/" + strings.Repeat("a", 2100), strict, "2048"},
	} {
		err := CheckRedirectURI(tc.uri, tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q refused: %v", tc.uri, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want an error containing %q", tc.uri, err, tc.want)
		}
	}
}
