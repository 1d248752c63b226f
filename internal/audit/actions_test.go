package audit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// actionLike is how an activity-log action is spelled.
var actionLike = regexp.MustCompile(`^"(admin|api_key|api_session|client|group|key|oauth|pat|role|security|tenant|token|user)\.[a-z_]+"$`)

// Every action the code writes or compares is a named constant (this
// package's, or a webhook event type's): a bare string in a security
// branch or an event is one typo away from a check that never matches.
// Tests and the store's conformance suite may spell them out.
func TestActionsAreConstants(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "storetest" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			for _, lit := range bareActions(t, path) {
				t.Errorf("%s: %s is a bare action: use its constant in internal/audit/actions.go", lit.pos, lit.text)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

type literal struct{ pos, text string }

// bareActions are the action-like string literals of a file outside
// constant declarations.
func bareActions(t *testing.T, path string) []literal {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []literal
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GenDecl); ok && g.Tok == token.CONST {
			return false // naming one is what constants are for
		}
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && actionLike.MatchString(lit.Value) {
			out = append(out, literal{fset.Position(lit.Pos()).String(), lit.Value})
		}
		return true
	})
	return out
}
