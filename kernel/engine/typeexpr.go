package engine

import (
	"fmt"
	"go/token"
	"go/types"
	"strconv"
	"strings"
)

// typePrinter writes a types.Type as Go source valid inside one generated
// cell package: types from earlier cells become cNNNN.Name (through their
// exported alias), other packages get an import alias registered in imports.
type typePrinter struct {
	cellPkg *types.Package         // the type-checked package of all cells
	cellOf  func(types.Object) int // seq of the cell declaring a package-level object
	current int                    // seq of the cell being generated
	imports map[string]string      // alias → path (filled as types need them)
	cells   map[int]bool           // earlier cells referenced
	world   bool                   // print for world source (no cNNNN qualifiers)
	err     error
}

func (p *typePrinter) str(t types.Type) string {
	var b strings.Builder
	p.write(&b, t)
	return b.String()
}

func (p *typePrinter) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *typePrinter) pkgAliasFor(pkg *types.Package) string {
	alias := "ξ" + sanitize(pkg.Path())
	if p.imports != nil {
		p.imports[alias] = pkg.Path()
	}
	return alias
}

func sanitize(path string) string {
	var b strings.Builder
	for _, r := range path {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (p *typePrinter) named(b *strings.Builder, obj *types.TypeName, targs *types.TypeList) {
	switch {
	case obj.Pkg() == nil: // error, comparable, any
		b.WriteString(obj.Name())
	case obj.Pkg() == p.cellPkg:
		if obj.Parent() != p.cellPkg.Scope() {
			p.fail("type %s is local to a function and cannot be kept across cells", obj.Name())
		}
		if p.world {
			b.WriteString(obj.Name())
			break
		}
		seq := p.cellOf(obj)
		if seq == p.current {
			b.WriteString(obj.Name())
		} else {
			p.cells[seq] = true
			b.WriteString(pkgAlias(seq) + "." + exportedName(obj.Name()))
		}
	default:
		if !obj.Exported() {
			p.fail("type %s.%s is not exported by its package", obj.Pkg().Path(), obj.Name())
		}
		b.WriteString(p.pkgAliasFor(obj.Pkg()) + "." + obj.Name())
	}
	if targs != nil && targs.Len() > 0 {
		b.WriteByte('[')
		for i := range targs.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			p.write(b, targs.At(i))
		}
		b.WriteByte(']')
	}
}

func (p *typePrinter) write(b *strings.Builder, t types.Type) {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			b.WriteString(p.pkgAliasFor(types.Unsafe) + ".Pointer")
			return
		}
		if t.Info()&types.IsUntyped != 0 {
			p.write(b, types.Default(t))
			return
		}
		b.WriteString(t.Name())
	case *types.Named:
		p.named(b, t.Obj(), t.TypeArgs())
	case *types.Alias:
		p.named(b, t.Obj(), t.TypeArgs())
	case *types.TypeParam:
		b.WriteString(t.Obj().Name())
	case *types.Pointer:
		b.WriteByte('*')
		p.write(b, t.Elem())
	case *types.Slice:
		b.WriteString("[]")
		p.write(b, t.Elem())
	case *types.Array:
		b.WriteString("[" + strconv.FormatInt(t.Len(), 10) + "]")
		p.write(b, t.Elem())
	case *types.Map:
		b.WriteString("map[")
		p.write(b, t.Key())
		b.WriteByte(']')
		p.write(b, t.Elem())
	case *types.Chan:
		switch t.Dir() {
		case types.SendRecv:
			b.WriteString("chan ")
			if c, ok := t.Elem().(*types.Chan); ok && c.Dir() == types.RecvOnly {
				b.WriteString("(")
				p.write(b, t.Elem())
				b.WriteString(")")
				return
			}
		case types.SendOnly:
			b.WriteString("chan<- ")
		case types.RecvOnly:
			b.WriteString("<-chan ")
		}
		p.write(b, t.Elem())
	case *types.Signature:
		b.WriteString("func")
		p.signature(b, t)
	case *types.Tuple:
		p.tuple(b, t, false)
	case *types.Struct:
		b.WriteString("struct{")
		for i := range t.NumFields() {
			if i > 0 {
				b.WriteString("; ")
			}
			f := t.Field(i)
			if f.Pkg() == p.cellPkg && !f.Exported() && !p.world {
				p.fail("a struct type with unexported field %s cannot be named outside its cell", f.Name())
			}
			if !f.Embedded() {
				b.WriteString(f.Name() + " ")
			}
			p.write(b, f.Type())
			if tag := t.Tag(i); tag != "" {
				b.WriteString(" " + strconv.Quote(tag))
			}
		}
		b.WriteByte('}')
	case *types.Interface:
		if t.Empty() && !t.IsImplicit() {
			b.WriteString("interface{}")
			return
		}
		b.WriteString("interface{")
		first := true
		for i := range t.NumEmbeddeds() {
			if !first {
				b.WriteString("; ")
			}
			first = false
			p.write(b, t.EmbeddedType(i))
		}
		for i := range t.NumExplicitMethods() {
			if !first {
				b.WriteString("; ")
			}
			first = false
			m := t.ExplicitMethod(i)
			name := m.Name()
			if m.Pkg() == p.cellPkg && !p.world {
				name = exportedName(name)
			} else if !m.Exported() {
				p.fail("an interface with unexported method %s cannot be named here", name)
			}
			b.WriteString(name)
			p.signature(b, m.Type().(*types.Signature))
		}
		b.WriteByte('}')
	case *types.Union:
		for i := range t.Len() {
			if i > 0 {
				b.WriteString(" | ")
			}
			if t.Term(i).Tilde() {
				b.WriteByte('~')
			}
			p.write(b, t.Term(i).Type())
		}
	default:
		p.fail("cannot write type %s", t)
	}
}

func (p *typePrinter) signature(b *strings.Builder, s *types.Signature) {
	p.tuple(b, s.Params(), s.Variadic())
	switch r := s.Results(); r.Len() {
	case 0:
	case 1:
		b.WriteByte(' ')
		p.write(b, r.At(0).Type())
	default:
		b.WriteByte(' ')
		p.tuple(b, r, false)
	}
}

func (p *typePrinter) tuple(b *strings.Builder, t *types.Tuple, variadic bool) {
	b.WriteByte('(')
	for i := range t.Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			b.WriteString("...")
			typ = typ.(*types.Slice).Elem()
		}
		p.write(b, typ)
	}
	b.WriteByte(')')
}

// typeParams writes a type parameter list "[T any, K comparable]" and the
// matching argument list "[T, K]"; both are empty for a non-generic type.
func (p *typePrinter) typeParams(tps *types.TypeParamList) (decl, args string) {
	if tps == nil || tps.Len() == 0 {
		return "", ""
	}
	var d, a []string
	for i := range tps.Len() {
		tp := tps.At(i)
		d = append(d, tp.Obj().Name()+" "+p.str(tp.Constraint()))
		a = append(a, tp.Obj().Name())
	}
	return "[" + strings.Join(d, ", ") + "]", "[" + strings.Join(a, ", ") + "]"
}

// exportedName is the name an unexported package-level identifier gets in
// generated code so that later cells' packages can use it.
func exportedName(name string) string {
	if name == "_" || token.IsExported(name) {
		return name
	}
	return "Ξ" + name
}
