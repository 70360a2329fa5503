package engine

import (
	"go/ast"
	"go/types"
)

// A worker process that ipc.Spawn starts from a cell is the session program
// run again: it loads the plugins of the cells the session had loaded and
// runs the worker that the last of them registered (display/cellhost.Serve).
// Loading a plugin runs its package's initialisation, not its statements,
// so a top-level statement ipc.RegisterWorker(name, fn) is moved into the
// cell package's init: it then registers the worker in the session process
// when the cell loads (before its statements run, which nothing can tell
// apart) and again in every worker process. It is moved only when its
// arguments use no variable, whose value a worker process would not have;
// such a call stays a statement and the worker process reports the name as
// unknown there, saying why.

const ipcPath = "github.com/ipclab/ipclab/ipc"

// registersWorker reports whether the top-level statement it is a call of
// ipc.RegisterWorker that can run at init.
func (g *generator) registersWorker(it item) bool {
	if g.c.runBody == nil {
		return false
	}
	start, end := g.c.offB+it.start, g.c.offB+it.end
	for _, s := range g.c.runBody.List {
		if at := g.off(s.Pos()); at < start || at >= end {
			continue
		}
		es, ok := s.(*ast.ExprStmt)
		if !ok {
			return false
		}
		call, ok := es.X.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		fn, ok := g.c.info.Uses[sel.Sel].(*types.Func)
		if !ok || fn.Pkg() == nil || fn.Pkg().Path() != ipcPath || fn.Name() != "RegisterWorker" {
			return false
		}
		usesVar := false
		for _, a := range call.Args {
			ast.Inspect(a, func(n ast.Node) bool {
				id, ok := n.(*ast.Ident)
				if !ok {
					return true
				}
				if v, ok := g.c.info.Uses[id].(*types.Var); ok && !v.IsField() && (v.Pos() < call.Pos() || v.Pos() >= call.End()) {
					usesVar = true
				}
				return !usesVar
			})
		}
		return !usesVar
	}
	return false
}
