package ipc

import (
	"fmt"
	"reflect"
	"unsafe"
)

// View returns a *T over the start of mem, so that two processes mapping
// the same segment see the same T. T must hold no pointers (no strings,
// slices, maps, interfaces, channels or functions): an address means
// nothing in another process, and the garbage collector does not scan
// shared memory. mem must be long enough and aligned for T.
func View[T any](mem []byte) (*T, error) {
	var zero T
	t := reflect.TypeOf(zero)
	if err := checkPlain(t); err != nil {
		return nil, fmt.Errorf("view %v over shared memory: %w", t, err)
	}
	if err := checkFit(mem, int(t.Size()), t.Align()); err != nil {
		return nil, fmt.Errorf("view %v over shared memory: %w", t, err)
	}
	return (*T)(unsafe.Pointer(unsafe.SliceData(mem))), nil
}

// ViewSlice returns a []T of n elements over the start of mem, under the
// same rules as View.
func ViewSlice[T any](mem []byte, n int) ([]T, error) {
	var zero T
	t := reflect.TypeOf(zero)
	if err := checkPlain(t); err != nil {
		return nil, fmt.Errorf("view []%v over shared memory: %w", t, err)
	}
	if n < 0 {
		return nil, fmt.Errorf("view []%v: %w: negative length", t, ErrBadParameter)
	}
	if err := checkFit(mem, n*int(t.Size()), t.Align()); err != nil {
		return nil, fmt.Errorf("view []%v over shared memory: %w", t, err)
	}
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n), nil
}

func checkFit(mem []byte, size, align int) error {
	if len(mem) < size {
		return fmt.Errorf("%w: needs %d bytes, memory has %d", ErrBadParameter, size, len(mem))
	}
	if len(mem) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%uintptr(align) != 0 {
		return fmt.Errorf("%w: memory is not %d-byte aligned", ErrBadParameter, align)
	}
	return nil
}

// checkPlain rejects types that contain pointers.
func checkPlain(t reflect.Type) error {
	if t == nil {
		return fmt.Errorf("%w: nil type", ErrBadParameter)
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		return checkPlain(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if err := checkPlain(t.Field(i).Type); err != nil {
				return fmt.Errorf("field %s: %w", t.Field(i).Name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %v holds a pointer (%v), which cannot be shared between processes", ErrBadParameter, t, t.Kind())
}
