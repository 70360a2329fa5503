package cellrt

import "syscall"

func gettid() int { return syscall.Gettid() }
