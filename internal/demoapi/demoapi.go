// Package demoapi is the small "submissions" API that `gatehouse
// quickstart` puts behind the gateway: an in-memory list of vulnerability
// submissions per tenant, with reads and writes, that answers with the
// identity the gateway vouched for. It trusts the X-Gatehouse-* headers,
// as a real upstream reachable only through the gateway would.
package demoapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Submission is one demo record.
type Submission struct {
	ID          int       `json:"id"`
	Title       string    `json:"title"`
	Severity    string    `json:"severity"`
	SubmittedBy string    `json:"submitted_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// API is the demo upstream.
type API struct {
	mu   sync.Mutex
	data map[string][]Submission // by tenant
}

// Handler serves /api/{tenant}/{version}/submissions[/{id}].
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/{tenant}/{version}/submissions", a.list)
	mux.HandleFunc("POST /api/{tenant}/{version}/submissions", a.create)
	mux.HandleFunc("GET /api/{tenant}/{version}/submissions/{id}", a.get)
	return http.MaxBytesHandler(mux, 64<<10)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	items := append([]Submission{}, a.data[r.PathValue("tenant")]...)
	a.mu.Unlock()
	reply(w, http.StatusOK, map[string]any{"tenant": r.Header.Get("X-Gatehouse-Tenant"),
		"api_version": r.PathValue("version"), "caller": r.Header.Get("X-Gatehouse-Subject"), "submissions": items})
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title    string `json:"title"`
		Severity string `json:"severity"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" || len(in.Title) > 200 {
		reply(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": `want {"title": "...", "severity": "low|medium|high|critical"}`})
		return
	}
	if in.Severity == "" {
		in.Severity = "medium"
	}
	tenant := r.PathValue("tenant")
	a.mu.Lock()
	if a.data == nil {
		a.data = map[string][]Submission{}
	}
	s := Submission{ID: len(a.data[tenant]) + 1, Title: in.Title, Severity: in.Severity,
		SubmittedBy: r.Header.Get("X-Gatehouse-Subject"), CreatedAt: time.Now().UTC()}
	a.data[tenant] = append(a.data[tenant], s)
	a.mu.Unlock()
	reply(w, http.StatusCreated, s)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.data[r.PathValue("tenant")] {
		if s.ID == id {
			reply(w, http.StatusOK, s)
			return
		}
	}
	reply(w, http.StatusNotFound, map[string]string{"error": "not_found"})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// Routes is the routes file quickstart writes for the demo API at upstream.
func Routes(upstream string) string {
	return `# Written by gatehouse quickstart: the demo submissions API.
routes:
  - name: submissions
    prefix: /api/{tenant}
    upstream: ` + upstream + `
    read_scope: submissions:read
    write_scope: submissions:write
    versions:
      default: "1.2"
      available:
        - version: "1.0"
          removed: true
        - version: "1.1"
          deprecated: "2026-01-01T00:00:00Z"
          sunset: "2027-06-30T00:00:00Z"
        - version: "1.2"
`
}
