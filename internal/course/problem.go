package course

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// A Problem is one thing wrong with the course, located so that an editor
// can jump to it: the file, the 1-based line and a readable message. A rule
// about the course as a whole (say, how many lessons open the same way) has
// no one place to jump to: its File is WholeCourse and its Line 0.
type Problem struct {
	File string
	Line int
	Msg  string
}

// WholeCourse is the File of a problem with the course as a whole.
const WholeCourse = "course"

// String formats the problem the way compilers do: "file:line: msg", or
// "course: msg" for the whole course.
func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
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

// addCourse appends a problem with the course as a whole.
func (ps *Problems) addCourse(format string, args ...any) {
	*ps = append(*ps, Problem{File: WholeCourse, Msg: fmt.Sprintf(format, args...)})
}

// sorted orders problems by file (course.yaml first, the whole course last)
// and line, keeping the order in which they were found for the same line,
// and returns nil when there are none so that callers can compare with nil.
func (ps Problems) sorted() Problems {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.File != b.File {
			switch {
			case a.File == courseFile, b.File == WholeCourse:
				return -1
			case b.File == courseFile, a.File == WholeCourse:
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
