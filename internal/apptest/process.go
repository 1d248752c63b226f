package apptest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

// binary is the gatehouse command built once per test process.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary builds ./cmd/gatehouse once per test process and returns its path.
// Call RemoveBinary from TestMain when the package's tests are done.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "gatehouse-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "gatehouse")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/gatehouse")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatalf("apptest: %v", binary.err)
	}
	return binary.path
}

// RemoveBinary deletes what Binary built.
func RemoveBinary() {
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
}

// ProcessOptions configure a `gatehouse serve` process.
type ProcessOptions struct {
	DB         string // --db
	MasterKey  string // shared by replicas; generated when empty
	AdminToken string // shared by replicas; generated when empty
	Issuer     string // shared by replicas; the bound address when empty
	Addr       string // public listener (default 127.0.0.1:0)
	AdminAddr  string // admin listener (default 127.0.0.1:0)
	Args       []string
}

// Process is a `gatehouse serve` child process.
type Process struct {
	URL        string // public base URL (where this replica listens)
	AdminURL   string
	AdminToken string
	Admin      *admin.API
	HTTP       *http.Client
	Opts       ProcessOptions

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs strings.Builder
}

// StartProcess runs `gatehouse serve --dev` with opts and waits until it
// serves. The process is killed when the test ends, if still running.
func StartProcess(t testing.TB, opts ProcessOptions) *Process {
	t.Helper()
	if opts.MasterKey == "" {
		opts.MasterKey = secret.NewMasterKey()
	}
	if opts.AdminToken == "" {
		opts.AdminToken = secret.New(secret.AdminToken)
	}
	opts.Addr = cmp.Or(opts.Addr, "127.0.0.1:0")
	opts.AdminAddr = cmp.Or(opts.AdminAddr, "127.0.0.1:0")
	p := &Process{t: t, Opts: opts, AdminToken: opts.AdminToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
	p.start()
	t.Cleanup(func() { p.Kill() })
	return p
}

func (p *Process) start() {
	p.t.Helper()
	o := p.Opts
	args := []string{"serve", "--dev", "--log-format", "json", "--log-level", "info",
		"--addr", o.Addr, "--admin-addr", o.AdminAddr, "--data-dir", p.t.TempDir(), "--usage-flush", "200ms"}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	if o.Issuer != "" {
		args = append(args, "--issuer", o.Issuer)
	}
	args = append(args, o.Args...)
	cmd := exec.Command(Binary(p.t), args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_MASTER_KEY="+o.MasterKey, "GATEHOUSE_ADMIN_TOKEN="+o.AdminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("apptest: start gatehouse: %v", err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec struct{ Msg, Public, Admin string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gatehouse serving" {
				ready <- [2]string{rec.Public, rec.Admin}
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }() //nolint:errcheck // a killed child's exit status is expected
	select {
	case addrs := <-ready:
		p.URL, p.AdminURL = "http://"+addrs[0], addrs[1]
		p.Admin = admin.New(p.AdminURL, o.AdminToken)
		// Restarts bind the same ports, so URLs held by the test stay good.
		p.Opts.Addr, p.Opts.AdminAddr = addrs[0], strings.TrimPrefix(addrs[1], "http://")
	case <-p.done:
		p.t.Fatalf("apptest: gatehouse exited before serving:\n%s", p.Logs())
	case <-time.After(60 * time.Second):
		p.Kill()
		p.t.Fatalf("apptest: gatehouse did not start within 60s:\n%s", p.Logs())
	}
}

// Logs returns what the process has written to stderr so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Kill sends SIGKILL (a crash: nothing is flushed) and waits for the exit.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill() //nolint:errcheck // already gone is fine
	<-p.done
}

// Stop sends SIGTERM and waits for a graceful exit.
func (p *Process) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // already gone is fine
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("apptest: gatehouse did not stop within 30s after SIGTERM")
		p.Kill()
	}
}

// Restart starts the process again on the same ports, store and keys
// (after Kill or Stop).
func (p *Process) Restart() {
	p.t.Helper()
	select {
	case <-p.done:
	default:
		p.t.Fatal("apptest: Restart of a running process")
	}
	p.start()
}

// Ready reports whether /readyz answers 200.
func (p *Process) Ready(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, "GET", p.URL+"/readyz", nil)
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// AsServer presents the process to helpers that only talk HTTP (URL,
// Admin, HTTP); its App is nil.
func (p *Process) AsServer() *Server {
	return &Server{URL: p.URL, AdminToken: p.AdminToken, Admin: p.Admin, HTTP: p.HTTP}
}
