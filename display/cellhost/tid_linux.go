package cellhost

import "syscall"

func gettid() int { return syscall.Gettid() }
