package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipclab/ipclab/internal/course"
)

// assignCommand writes the student version of an assignment.
func assignCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("assign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "directory for the student version (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ipclab assign SOURCE.ipynb -o DIR\n\nwrites DIR/SOURCE.ipynb: solutions replaced by a stub, hidden tests removed, outputs cleared, checksums recorded")
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(args, map[string]bool{"-o": true})); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		fs.Usage()
		return errors.New("need one SOURCE.ipynb and -o DIR")
	}
	src, err := course.ReadNotebook(fs.Arg(0))
	if err != nil {
		return err
	}
	rel, err := course.Release(src)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(*out, filepath.Base(fs.Arg(0)))
	if abs1, _ := filepath.Abs(dst); abs1 != "" {
		if abs2, _ := filepath.Abs(fs.Arg(0)); abs1 == abs2 {
			return fmt.Errorf("-o %s would overwrite the source", *out)
		}
	}
	if err := rel.WriteFile(dst); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", dst)
	return nil
}

// gradeCommand grades submissions against the source.
func gradeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "the teacher's notebook with solutions and hidden tests (required)")
	out := fs.String("o", "graded", "output directory: gradebook.csv, gradebook.json, feedback/, autograded/")
	jobs := fs.Int("jobs", 1, "submissions graded at once")
	cellTimeout := fs.Duration("cell-timeout", time.Minute, "time limit of one cell")
	nbTimeout := fs.Duration("timeout", 10*time.Minute, "time limit of one submission")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ipclab grade --source SOURCE.ipynb [-o DIR] [--jobs N] SUBMISSION.ipynb…")
		fs.PrintDefaults()
	}
	if err := fs.Parse(interleave(args, map[string]bool{"-source": true, "--source": true, "-o": true, "-jobs": true, "--jobs": true,
		"-cell-timeout": true, "--cell-timeout": true, "-timeout": true, "--timeout": true})); err != nil {
		return err
	}
	if *source == "" || fs.NArg() == 0 {
		fs.Usage()
		return errors.New("need --source SOURCE.ipynb and at least one submission")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the ipclab executable: %w", err)
	}
	gb, err := course.Grade(ctx, course.Options{
		Source: *source, OutDir: *out, Jobs: *jobs, CellTimeout: *cellTimeout, NotebookTimeout: *nbTimeout,
		Exe: exe, Version: version, Progress: stderr,
	}, fs.Args())
	if gb != nil {
		for _, s := range gb.Submissions {
			fmt.Fprintf(stdout, "%-20s %s/%s\n", s.Student, trimFloat(s.Points), trimFloat(s.MaxPoints))
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, "gradebook.csv"))
	}
	return err
}

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.2f", f), ".00") }

// gradeRunCommand is the child process of grade: one submission's cells
// in a fresh kernel engine (not listed in the usage).
func gradeRunCommand(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: ipclab grade-run DIR (started by ipclab grade)")
	}
	return course.RunJob(ctx, args[0], stderr)
}

// interleave moves flags after positional arguments to the front, so that
// "grade a.ipynb --jobs 2" works as well as "grade --jobs 2 a.ipynb".
// valued lists the flags that take a separate value.
func interleave(args []string, valued map[string]bool) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if valued[a] && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}
