package engine

import "time"

// WaitPrelude waits until the prelude plugin is built, for tests.
func (e *Engine) WaitPrelude(timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		e.preludeMu.Lock()
		ready := e.prelude != ""
		e.preludeMu.Unlock()
		if ready {
			return true
		}
	}
	return false
}
