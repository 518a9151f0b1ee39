package course

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// A Problem is one thing wrong with the course, located so that an editor
// can jump to it: the file, the 1-based line and a readable message.
type Problem struct {
	File string
	Line int
	Msg  string
}

// String formats the problem the way compilers do: "file:line: msg".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is every problem found in a course, one per line when printed.
// A nil or empty Problems means the course is valid.
type Problems []Problem

// Error lists all problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are none. Use it instead of
// converting a nil Problems to error, which would give a non-nil interface.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// add appends a problem with a formatted message.
func (ps *Problems) add(file string, line int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	*ps = append(*ps, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// sorted orders problems by file (course.yaml first) and line, keeping the
// order in which they were found for the same line, and returns nil when
// there are none so that callers can compare with nil.
func (ps Problems) sorted() Problems {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.File != b.File {
			if a.File == courseFile {
				return -1
			}
			if b.File == courseFile {
				return 1
			}
			return strings.Compare(a.File, b.File)
		}
		return cmp.Compare(a.Line, b.Line)
	})
	// The same problem found twice on a line (say "<b>" and "</b>") is
	// reported once.
	return slices.Compact(ps)
}
