package sfemu

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The emulator's layering (docs/architecture.md, "sfemu"): the org and the shared owners at the bottom, each
// protocol surface a package on top of them that receives what it uses, package sfemu wiring them. These tests
// measure it and fail when it slides back.

const modulePath = "github.com/salesforce-streaming/salesforce_streaming/"

// surfaces are the protocol surfaces that are packages of their own; lower are the packages beneath them.
var (
	surfaces = []string{"sfemu/internal/oauth", "sfemu/internal/control", "sfemu/internal/rest", "sfemu/internal/cometd",
		"sfemu/internal/pubsubapi"}
	lower = []string{"sfemu/org", "sfemu/org/soql", "sfemu/internal/dataapi", "sfemu/internal/orgstream",
		"sfemu/internal/jsonw", "sfemu/internal/sfhttp", "sfemu/internal/tokens", "sfemu/internal/faults",
		"sfemu/internal/streamerr", "sfemu/internal/limits", "sfemu/internal/clock",
		"sfemu/internal/generate", "sfemu/internal/eventstore"}
)

// packageImports lists the module's packages that the non-test files of dir import, relative to the module.
func packageImports(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range allImports(t, dir) {
		if rel, ok := strings.CutPrefix(p, modulePath); ok {
			out = append(out, rel)
		}
	}
	return out
}

// allImports lists every import path of the non-test files of dir.
func allImports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files, dir)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// No arrow runs back up: a lower package imports no surface and not sfemu; a surface imports no other surface.
func TestStructureNoArrowBackUp(t *testing.T) {
	isSurface := map[string]bool{}
	for _, s := range surfaces {
		isSurface[s] = true
	}
	arrows, up := 0, []string{}
	for _, pkg := range append(append([]string{}, lower...), surfaces...) {
		for _, imp := range packageImports(t, filepath.Join("..", pkg)) {
			if !strings.HasPrefix(imp, "sfemu") {
				continue
			}
			arrows++
			if imp == "sfemu" || isSurface[imp] {
				up = append(up, pkg+" -> "+imp)
			}
		}
	}
	t.Logf("import arrows among sfemu's sub-packages: %d, running back up or across surfaces: %d", arrows, len(up))
	assert.Empty(t, up)
}

// The event store serves no protocol: no HTTP, no gRPC, and none of the protocol surfaces' packages.
func TestStructureEventStoreServesNoProtocol(t *testing.T) {
	for _, imp := range allImports(t, filepath.Join("internal", "eventstore")) {
		assert.NotContains(t, []string{"net/http", "net/http/httptest"}, imp)
		assert.False(t, strings.HasPrefix(imp, "google.golang.org/grpc"), imp)
		assert.False(t, strings.HasPrefix(imp, modulePath+"internal/pubsub"), imp)
		assert.NotContains(t, []string{"sfemu/internal/sfhttp", "sfemu/internal/faults", "sfemu/internal/tokens"},
			strings.TrimPrefix(imp, modulePath))
	}
}

// Server embeds no surface type: what remains embedded is counted, and may only fall.
func TestStructureServerEmbedsFewerSurfaces(t *testing.T) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "server.go", nil, 0)
	require.NoError(t, err)
	var embedded []string
	ast.Inspect(af, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Server" {
			return true
		}
		for _, f := range ts.Type.(*ast.StructType).Fields.List {
			if len(f.Names) == 0 {
				embedded = append(embedded, types(f.Type))
			}
		}
		return false
	})
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	files := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			files++
		}
	}
	methods := serverMethods(t, append([]string{"Server"}, embedded...))
	arrows, up := typeArrows(t, append([]string{"Server"}, embedded...))
	t.Logf("package sfemu: %d non-test files; Server embeds %d types: %v; %d methods on Server (own and promoted); "+
		"%d arrows between Server and its embedded types, %d of them back up to Server", files, len(embedded), embedded,
		methods, arrows, up)
	// Before the surfaces became packages: 31 files and 10 embedded types (9 surfaces and the org instance); then
	// 26 files, 4 embedded types, 97 methods and 14 arrows (4 back up) before the event store, CometD and Pub/Sub
	// became packages.
	assert.Empty(t, embedded, "a surface went back into Server")
	assert.LessOrEqual(t, methods, 33, "Server's namespace grew")
	assert.Zero(t, arrows, "an embedded type reaches into Server or another")
	for _, gone := range []string{"oauthHandler", "controlAPI", "restHandler", "faultSet", "eventGenerator", "eventStore",
		"payloadBuilder", "cometdHandler", "pubsubServer"} {
		assert.NotContains(t, embedded, gone)
	}
}

func types(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

// serverMethods counts the methods declared in package sfemu on the given receiver types: Server's own and those
// its embedded types promote into its namespace.
func serverMethods(t *testing.T, receivers []string) int {
	t.Helper()
	want := map[string]bool{}
	for _, r := range receivers {
		want[r] = true
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		require.NoError(t, err)
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && want[types(fd.Recv.List[0].Type)] {
				n++
			}
		}
	}
	return n
}

// typeArrows counts the arrows among the given types of package sfemu: a method of one type that uses (through its
// receiver) a field or method declared on another is an arrow from the first to the second, counted once per pair.
// up counts those ending at Server.
func typeArrows(t *testing.T, names []string) (arrows, up int) {
	t.Helper()
	inSet := map[string]bool{}
	for _, n := range names {
		inSet[n] = true
	}
	owners := map[string][]string{} // a field or method name -> the types of the set declaring it
	type method struct {
		recv, recvName string
		body           *ast.BlockStmt
	}
	var methods []method
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		require.NoError(t, err)
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil || !inSet[types(d.Recv.List[0].Type)] {
					continue
				}
				recv := types(d.Recv.List[0].Type)
				owners[d.Name.Name] = append(owners[d.Name.Name], recv)
				if len(d.Recv.List[0].Names) > 0 && d.Body != nil {
					methods = append(methods, method{recv, d.Recv.List[0].Names[0].Name, d.Body})
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok || !inSet[ts.Name.Name] {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fl := range st.Fields.List {
						for _, n := range fl.Names {
							owners[n.Name] = append(owners[n.Name], ts.Name.Name)
						}
					}
				}
			}
		}
	}
	pairs := map[[2]string]bool{}
	for _, m := range methods {
		ast.Inspect(m.body, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != m.recvName {
				return true
			}
			own := owners[sel.Sel.Name]
			if len(own) == 0 || slices.Contains(own, m.recv) {
				return true
			}
			pairs[[2]string{m.recv, own[0]}] = true
			return true
		})
	}
	for p := range pairs {
		arrows++
		if p[1] == "Server" {
			up++
		}
	}
	return arrows, up
}
