package sessionhook

import "sync"

// PluginsEnv names the variable in which the session process lists the
// plugins of the cells it has loaded, in load order, separated by
// os.PathListSeparator. A worker process inherits it with the rest of the
// environment and loads the same plugins before its worker runs.
const PluginsEnv = "IPCLAB_SESSION_PLUGINS"

var worker struct {
	sync.Mutex
	run   func() int // runs the pending worker and returns its exit code
	taken bool
	// mainRuns is set by the session program (display/cellhost's init),
	// whose main runs a pending worker once the cells are loaded.
	mainRuns bool
}

// MainRunsWorkers is called at init by a program whose main takes the
// pending worker (TakePendingWorker): the ipclab session program, and the
// program that rebuilds all cells, whose cell packages initialise after
// package ipc and may register a worker's name more than once.
func MainRunsWorkers() {
	worker.Lock()
	defer worker.Unlock()
	worker.mainRuns = true
}

// SetPendingWorker is called by package ipc at init in a worker process
// whose worker is not registered yet: run starts it once it is.
func SetPendingWorker(run func() int) {
	worker.Lock()
	defer worker.Unlock()
	worker.run = run
}

// TakePendingWorker returns the pending worker, if this process is one,
// and from then on Deferred reports true: registrations made while the
// session program loads the plugins do not start the worker at once (a
// later cell may register the same name again, and the last one counts).
func TakePendingWorker() func() int {
	worker.Lock()
	defer worker.Unlock()
	if worker.run == nil {
		return nil
	}
	worker.taken = true
	return worker.run
}

// Deferred reports whether the session program starts the pending worker
// itself, after loading the plugins.
func Deferred() bool {
	worker.Lock()
	defer worker.Unlock()
	return worker.taken || worker.mainRuns
}
