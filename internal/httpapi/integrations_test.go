package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sdk/admin"
)

func apiConfigInput(name string) admin.ClientInput {
	return admin.ClientInput{Name: &name, Grants: &[]string{"authorization_code"}, RedirectURIs: &[]string{"https://app.example/cb"}}
}

// A user-based integration names an owner of its own tenant; the owner is
// shown in every rendering and can be changed or cleared.
func TestClientOwner(t *testing.T) {
	f := newUsersFixture(t)
	ada := f.mustUser(t, "ada@example.com", "program_member")
	in := apiConfigInput("Ada's sync")
	in.OwnerUserID = &ada.ID
	c, err := f.api.CreateClient(ctx, "acme", in)
	if err != nil || c.OwnerUserID != ada.ID {
		t.Fatalf("CreateClient = %+v, %v", c, err)
	}
	if got, err := f.api.GetClient(ctx, "acme", c.ClientID); err != nil || got.OwnerUserID != ada.ID {
		t.Fatalf("GetClient = %+v, %v", got, err)
	}
	if status, body := f.raw(t, http.MethodGet, "/admin/v1/tenants/acme/clients", ""); status != http.StatusOK || !strings.Contains(body, `"owner_user_id":"`+ada.ID+`"`) {
		t.Fatalf("list: %d %s", status, body)
	}

	other, err := f.api.CreateUser(ctx, "globex", admin.UserInput{Email: ptrTo("bob@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"usr_nobody", other.ID} {
		in := apiConfigInput("x")
		in.OwnerUserID = &owner
		_, err := f.api.CreateClient(ctx, "acme", in)
		wantInvalid(t, err, "owner_user_id")
		_, err = f.api.UpdateClient(ctx, "acme", c.ClientID, admin.ClientInput{OwnerUserID: &owner})
		wantInvalid(t, err, "owner_user_id")
	}
	if got, err := f.api.UpdateClient(ctx, "acme", c.ClientID, admin.ClientInput{OwnerUserID: ptrTo("")}); err != nil || got.OwnerUserID != "" {
		t.Fatalf("clearing the owner: %+v, %v", got, err)
	}
}

// With the tenant policy on, a second API configuration is a 409 naming
// the first, until the first is deleted; client_credentials clients do
// not count.
func TestOneActiveIntegration(t *testing.T) {
	f := newUsersFixture(t)
	tn, err := f.api.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{OneActiveIntegration: ptrTo(true)}})
	if err != nil || !tn.Settings.OneActiveIntegration {
		t.Fatalf("UpdateTenant = %+v, %v", tn, err)
	}
	first, err := f.api.CreateClient(ctx, "acme", apiConfigInput("first"))
	if err != nil {
		t.Fatal(err)
	}
	machine, err := f.api.CreateClient(ctx, "acme", admin.ClientInput{Name: ptrTo("machine")})
	if err != nil {
		t.Fatalf("a client_credentials client: %v", err)
	}
	want := "this tenant allows one active API integration; delete the existing one (" + first.ClientID + ") first"
	_, err = f.api.CreateClient(ctx, "acme", apiConfigInput("second"))
	if e := wantStatus(t, err, http.StatusConflict, "conflict"); e.Description != want {
		t.Fatalf("description = %q, want %q", e.Description, want)
	}
	_, err = f.api.UpdateClient(ctx, "acme", machine.ClientID, admin.ClientInput{
		Grants: &[]string{"client_credentials", "authorization_code"}, RedirectURIs: &[]string{"https://app.example/cb"}})
	if e := wantStatus(t, err, http.StatusConflict, "conflict"); e.Description != want {
		t.Fatalf("update: description = %q, want %q", e.Description, want)
	}
	if _, err := f.api.CreateClient(ctx, "globex", apiConfigInput("elsewhere")); err != nil {
		t.Fatalf("another tenant (policy off): %v", err)
	}

	if err := f.api.DeleteClient(ctx, "acme", first.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.CreateClient(ctx, "acme", apiConfigInput("second")); err != nil {
		t.Fatalf("after deleting the first: %v", err)
	}
	if tn, err := f.api.UpdateTenant(ctx, "acme", admin.TenantInput{Settings: &admin.TenantSettingsInput{OneActiveIntegration: ptrTo(false)}}); err != nil || tn.Settings.OneActiveIntegration {
		t.Fatalf("turning the policy off: %+v, %v", tn, err)
	}
	if _, err := f.api.CreateClient(ctx, "acme", apiConfigInput("third")); err != nil {
		t.Fatalf("policy off: %v", err)
	}
}
