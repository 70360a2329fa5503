package engine

import (
	"fmt"
	"go/types"
	"maps"
	"sort"
	"strings"
)

// helpers writes the package-level code a cell's package needs besides the
// user's declarations: its top-level variables, and for each type it
// declares an exported alias plus accessors, so that later cells' packages
// can reach unexported fields and write literals of it.
func (g *generator) helpers(rec *cellRecord) string {
	var b strings.Builder
	info := g.c.info

	// Top-level variables, in the order they were declared.
	type hv struct {
		obj *types.Var
		pos int
	}
	var vars []hv
	for id, obj := range info.Defs {
		v, ok := obj.(*types.Var)
		if !ok || g.c.runScp == nil || v.Parent() != g.c.runScp || v.Name() == "_" || !g.inCell(id.Pos()) {
			continue
		}
		vars = append(vars, hv{v, g.off(id.Pos())})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].pos < vars[j].pos })
	for _, v := range vars {
		g.tp.err = nil
		typ := g.tp.str(v.obj.Type())
		if g.tp.err != nil {
			g.fail(v.obj.Pos(), "cannot keep %s for later cells: %v; compute it inside a function instead", v.obj.Name(), g.tp.err)
			continue
		}
		fmt.Fprintf(&b, "var %s %s\n", exportedName(v.obj.Name()), typ)
		wp := &typePrinter{cellPkg: g.c.pkg, cellOf: g.cellOf, current: g.t.seq, imports: map[string]string{}, world: true}
		rec.hoisted = append(rec.hoisted, hoistedVar{name: v.obj.Name(), typ: wp.str(v.obj.Type()), imports: wp.imports})
	}

	// Types this cell declares.
	var names []*types.TypeName
	for id, obj := range info.Defs {
		tn, ok := obj.(*types.TypeName)
		if ok && tn.Parent() == g.c.pkg.Scope() && g.inCell(id.Pos()) {
			names = append(names, tn)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Pos() < names[j].Pos() })
	for _, tn := range names {
		g.typeHelpers(&b, tn)
	}
	return b.String()
}

func (g *generator) typeHelpers(b *strings.Builder, tn *types.TypeName) {
	name := tn.Name()
	var tparams *types.TypeParamList
	switch t := tn.Type().(type) {
	case *types.Named:
		tparams = t.TypeParams()
	case *types.Alias:
		tparams = t.TypeParams()
	}
	g.tp.err = nil
	decl, args := g.tp.typeParams(tparams)
	if g.tp.err != nil {
		return
	}
	if !tn.Exported() {
		fmt.Fprintf(b, "type %s%s = %s%s\n", exportedName(name), decl, name, args)
	}
	named, ok := tn.Type().(*types.Named)
	if !ok || tn.IsAlias() {
		return
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return
	}
	self := name + args
	// Field types are printed only for the accessors of unexported fields:
	// a type with none must not make the package import what its field
	// types name (the declaration itself names them as the user wrote).
	imports, cells := maps.Clone(g.tp.imports), maps.Clone(g.tp.cells)
	var params, fields []string
	hidden := false
	for i := range st.NumFields() {
		f := st.Field(i)
		g.tp.err = nil
		ft := g.tp.str(f.Type())
		if g.tp.err != nil {
			g.tp.imports, g.tp.cells = imports, cells
			return // a field type that cannot be named: later cells cannot reach this type's fields
		}
		params = append(params, fmt.Sprintf("a%d %s", i, ft))
		fields = append(fields, fmt.Sprintf("a%d", i))
		if f.Exported() {
			continue
		}
		hidden = true
		fmt.Fprintf(b, "func Ξf_%s_%s%s(p *%s) *%s { return &p.%s }\n", name, f.Name(), decl, self, ft, f.Name())
		fmt.Fprintf(b, "func Ξg_%s_%s%s(p %s) %s { return p.%s }\n", name, f.Name(), decl, self, ft, f.Name())
	}
	if !hidden {
		g.tp.imports, g.tp.cells = imports, cells
		return
	}
	fmt.Fprintf(b, "func Ξlit_%s%s(%s) %s { return %s{%s} }\n", name, decl, strings.Join(params, ", "), self, self, strings.Join(fields, ", "))
	fmt.Fprintf(b, "func Ξkeyed_%s%s(init func(*%s)) (v %s) { init(&v); return }\n", name, decl, self, self)
	fmt.Fprintf(b, "func Ξzero_%s%s() (v %s) { return }\n", name, decl, self)
}
