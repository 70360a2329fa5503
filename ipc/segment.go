package ipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// SegmentKind names a way of getting memory that two processes share.
type SegmentKind string

const (
	// PosixShm is a POSIX shared-memory object: a file in /dev/shm, mapped
	// with mmap (what shm_open does).
	PosixShm SegmentKind = "posix"
	// SysvShm is a System V segment (shmget/shmat), named by its id.
	SysvShm SegmentKind = "sysv"
	// MappedFile is an ordinary file in Dir() mapped with MAP_SHARED.
	MappedFile SegmentKind = "file"
	// Anonymous is an anonymous shared mapping handed to a child process.
	// Go cannot fork, so a child cannot inherit a MAP_SHARED|MAP_ANONYMOUS
	// mapping; instead the memory is a memfd (memfd_create), which has no
	// name in any file system, and the child receives its descriptor
	// (exec.Cmd.ExtraFiles) and maps it. Its Name is "fd:N" in the process
	// that holds descriptor N.
	Anonymous SegmentKind = "memfd"
)

// SegmentKinds lists the kinds CreateSegment accepts.
func SegmentKinds() []SegmentKind { return []SegmentKind{PosixShm, SysvShm, MappedFile, Anonymous} }

// Segment is a piece of memory mapped into this process and shareable with
// others. The creator owns it: its Close removes the name; an attached
// segment's Close only unmaps.
type Segment struct {
	kind  SegmentKind
	name  string
	mem   []byte
	file  *os.File // nil for SysV
	owner bool
	once  sync.Once
	err   error
}

// CreateSegment makes a new zeroed segment of at least size bytes.
func CreateSegment(kind SegmentKind, size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("create %s segment of %d bytes: %w: size must be positive", kind, size, ErrBadParameter)
	}
	switch kind {
	case PosixShm, MappedFile, Anonymous, SysvShm:
		if err := checkRoom(kind, size); err != nil {
			return nil, fmt.Errorf("create %s segment of %d bytes: %w", kind, size, err)
		}
	}
	s := &Segment{kind: kind, owner: true}
	var err error
	switch kind {
	case PosixShm:
		s.name = "/" + newName("shm")
		if err = track(resShm, s.name); err == nil {
			s.file, err = os.OpenFile(filepath.Join("/dev/shm", s.name[1:]), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		}
	case MappedFile:
		s.name = filepath.Join(Dir(), newName("map"))
		if err = track(resPath, s.name); err == nil {
			s.file, err = os.OpenFile(s.name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		}
	case Anonymous:
		var fd int
		fd, err = unix.MemfdCreate(Prefix(), unix.MFD_CLOEXEC)
		if err == nil {
			s.file = os.NewFile(uintptr(fd), "memfd:"+Prefix())
			s.name = "fd:" + strconv.Itoa(fd)
		}
	case SysvShm:
		var id int
		id, err = unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if err != nil {
			if errors.Is(err, unix.EINVAL) {
				err = fmt.Errorf("%w (the OS limit is /proc/sys/kernel/shmmax = %s)", err, readProc("/proc/sys/kernel/shmmax"))
			}
			break
		}
		s.name = strconv.Itoa(id)
		if err = track(resSysvShm, s.name); err != nil {
			break
		}
		s.mem, err = unix.SysvShmAttach(id, 0, 0)
	default:
		return nil, fmt.Errorf("create segment: %w: unknown segment kind %q (have posix, sysv, file, memfd)", ErrBadParameter, kind)
	}
	if err == nil && s.file != nil {
		if err = s.file.Truncate(int64(size)); err == nil {
			flags := unix.MAP_SHARED
			if uint64(size) <= populateLimit() {
				flags |= unix.MAP_POPULATE // fault in now, not during a measurement
			}
			s.mem, err = unix.Mmap(int(s.file.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, flags)
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("create %s segment %q of %d bytes: %w", kind, s.name, size, err)
	}
	return s, nil
}

// AttachSegment maps an existing segment by the Name its creator reported.
func AttachSegment(kind SegmentKind, name string, size int) (*Segment, error) {
	s := &Segment{kind: kind, name: name}
	var err error
	switch kind {
	case PosixShm:
		s.file, err = os.OpenFile(filepath.Join("/dev/shm", strings.TrimPrefix(name, "/")), os.O_RDWR, 0)
	case MappedFile:
		s.file, err = os.OpenFile(name, os.O_RDWR, 0)
	case Anonymous:
		fd, perr := strconv.Atoi(strings.TrimPrefix(name, "fd:"))
		if perr != nil {
			err = fmt.Errorf("%w: memfd segment name must be fd:N", ErrBadParameter)
			break
		}
		s.file = os.NewFile(uintptr(fd), name)
	case SysvShm:
		id, perr := strconv.Atoi(name)
		if perr != nil {
			err = fmt.Errorf("%w: sysv segment name must be its id", ErrBadParameter)
			break
		}
		s.mem, err = unix.SysvShmAttach(id, 0, 0)
		if err == nil && len(s.mem) < size {
			err = fmt.Errorf("segment has %d bytes, want %d", len(s.mem), size)
		}
	default:
		err = fmt.Errorf("%w: unknown segment kind %q", ErrBadParameter, kind)
	}
	if err == nil && s.file != nil {
		s.mem, err = unix.Mmap(int(s.file.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("attach %s segment %q: %w", kind, name, err)
	}
	return s, nil
}

// Kind returns how the memory is shared.
func (s *Segment) Kind() SegmentKind { return s.kind }

// Name is what another process passes to AttachSegment.
func (s *Segment) Name() string { return s.name }

// Bytes returns the mapped memory. It is valid until Close.
func (s *Segment) Bytes() []byte { return s.mem }

// File returns the descriptor behind the mapping (nil for SysV), for
// handing to a child process through exec.Cmd.ExtraFiles.
func (s *Segment) File() *os.File { return s.file }

// Close unmaps the segment and, if this process created it, removes it.
func (s *Segment) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.mem != nil {
			if s.kind == SysvShm {
				errs = append(errs, unix.SysvShmDetach(s.mem))
			} else {
				errs = append(errs, unix.Munmap(s.mem))
			}
			s.mem = nil
		}
		if s.file != nil {
			s.file.Close()
		}
		if s.owner {
			switch s.kind {
			case PosixShm:
				errs = append(errs, release(resShm, s.name))
			case MappedFile:
				errs = append(errs, release(resPath, s.name))
			case SysvShm:
				if s.name != "" {
					errs = append(errs, release(resSysvShm, s.name))
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.err = fmt.Errorf("close %s segment %q: %w", s.kind, s.name, err)
		}
	})
	return s.err
}

func readProc(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
