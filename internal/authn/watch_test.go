package authn

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Every store method that writes is either watched (it can take authority
// away from a credential, so this replica's caches must hear of it before
// it returns) or listed here with the reason it cannot. A write added to
// store.Store fails this test until someone decides which it is: the
// "at once on this replica" promise cannot be forgotten by a new surface.
var cannotTakeAuthority = map[string]string{
	"CreateTenant": "a new tenant holds nothing yet", "CreateClient": "new", "CreateKey": "signing keys are not credentials",
	"RotateKey": "signing keys", "DeleteKeysRetiredBefore": "retired signing keys", "CreateOpaqueToken": "new",
	"AppendEvents": "the activity log", "CreateAdminCredential": "admin credentials are not gateway credentials",
	"CreateUser": "new", "RecordLogin": "a timestamp", "CreateGroup": "an empty group", "CreateAuthCode": "new",
	"CreateFamily": "new", "CreatePAT": "new", "CreateAPIKey": "new", "RecordAPIKeyLogin": "a timestamp",
	"AddPATUsage": "timestamps", "AddClientUsage": "counters", "PurgeClientUsage": "counters",
	"PurgeExpiredTokens": "only what expired", "PurgeAuthCodes": "only what expired", "PurgeFamilies": "only what expired",
	"EnqueueWebhook": "notifications", "ClaimWebhooks": "notifications", "FinishWebhook": "notifications",
	"EnqueuePATExpiryNotices": "notifications", "PurgeWebhooks": "notifications",
	// The clients service drops its own cached copy after each of these
	// (clients.Service.update, Delete), and authn reads clients through it.
	"UpdateClient": "the clients service's cache", "DeleteClient": "the clients service's cache",
	"GrantConsent": "a grant only lets a later authorization skip the page; the code it issues is judged like any",
	"TryLock":      "a lock", "Close": "the store itself",
}

// reads name the methods that only read.
var readPrefixes = []string{"Get", "List", "Count", "Is", "Denied", "Ping", "ClientUsageSince"}

func TestWatchCoversEveryWrite(t *testing.T) {
	watchedMethods := definedMethods(t, "watch.go", "watched")
	st := reflect.TypeFor[store.Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		read := false
		for _, p := range readPrefixes {
			read = read || strings.HasPrefix(name, p)
		}
		_, exempt := cannotTakeAuthority[name]
		switch {
		case read && watchedMethods[name]:
			t.Errorf("%s only reads, yet watch.go wraps it", name)
		case read, watchedMethods[name]:
		case exempt:
		default:
			t.Errorf("store.Store.%s writes: wrap it in watch.go (if it can take authority from a credential) or list why it cannot in cannotTakeAuthority", name)
		}
		if exempt && watchedMethods[name] {
			t.Errorf("%s is both watched and listed as unable to take authority", name)
		}
	}
}

// definedMethods are the methods declared in file on type recv (not those
// promoted from an embedded field).
func definedMethods(t *testing.T, file, recv string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == recv {
				out[fn.Name.Name] = true
			}
		}
	}
	return out
}
