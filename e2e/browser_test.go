package e2e

import (
	"bytes"
	"context"
	"iter"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/apptest"
)

// chromium returns the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestLoginInABrowser signs in through the real login and consent pages in
// headless Chromium. The redirect to the application
// (https://app.example/cb) is intercepted with the DevTools Fetch domain and
// answered by the test, so the host never needs to exist.
func TestLoginInABrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH (.ci/run installs Debian's chromium)")
	}
	s := apptest.Start(t, apptest.SQLite(t), nil)
	f := newFlow(t, s)
	verifier := oauth2.GenerateVerifier()
	const state = "st-browser"
	authURL := f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.ExecPath(bin),
	)
	actx, cancelA := chromedp.NewExecAllocator(tctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()

	// Pause every request to the application; the test answers it.
	if _, err := chromedp.Call(bctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "https://app.example/*"}},
	}); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	nextPaused, stop := iter.Pull2(chromedp.Events(bctx, fetch.RequestPaused))
	defer stop()

	dir := t.TempDir()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Fatalf("screenshot %s: %v, %v", p, fi, err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}

	// The login page.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), userPassword),
	); err != nil {
		t.Fatalf("login page: %v", err)
	}
	shot("login.png")

	// Sign in: the consent page follows.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	); err != nil {
		body, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("consent page: %v\n%s", err, body)
	}
	if title, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("h1"))); err != nil || !strings.HasPrefix(title, "Authorize ") {
		t.Errorf("consent page heading %q, %v", title, err)
	}
	shot("consent.png")

	// Allow: the server redirects the browser to the application.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[value="allow"]`))); err != nil {
		t.Fatalf("allow: %v", err)
	}
	ev, err, ok := nextPaused()
	if !ok || err != nil {
		t.Fatalf("no request to the application: %v", err)
	}
	if _, err := chromedp.Call(bctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
		RequestID:       ev.RequestID,
		ResponseCode:    200,
		ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
		Body:            []byte(`<!doctype html><title>app</title><p id="done">signed in</p>`),
	}); err != nil {
		t.Fatalf("answer the callback: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
		t.Fatalf("callback page: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := url.Parse(ev.Request.URL)
	if err != nil || !strings.HasPrefix(ev.Request.URL, appCallback+"?") || loc != ev.Request.URL {
		t.Fatalf("callback %q (browser at %q): %v", ev.Request.URL, loc, err)
	}
	q := cb.Query()
	if q.Get("code") == "" || q.Get("state") != state || q.Get("iss") != s.URL {
		t.Fatalf("callback query %v, want a code, state %q and iss %q", q, state, s.URL)
	}

	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.RefreshToken, "gate_rt_") || tok.AccessToken == "" {
		t.Errorf("token response: access %q refresh %q", tok.AccessToken, tok.RefreshToken)
	}
}
