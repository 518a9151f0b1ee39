package admin

import "strings"

// diffLine is one line of a line-based diff: Op is ' ' (kept), '-'
// (only in the old text) or '+' (only in the new).
type diffLine struct {
	Op       string
	Text     string
	Old, New int // 1-based line numbers; 0 where the line is absent
}

// maxDiffCells bounds the LCS table; lessons are a few dozen lines, so
// only a pathological text goes past it and is shown as replaced whole.
const maxDiffCells = 4_000_000

// diffLines compares two texts line by line with a longest common
// subsequence, the classic diff, which is exact and small enough for
// lesson-sized texts.
func diffLines(a, b string) []diffLine {
	x, y := splitLines(a), splitLines(b)
	if len(x)*len(y) > maxDiffCells {
		out := make([]diffLine, 0, len(x)+len(y))
		for i, l := range x {
			out = append(out, diffLine{Op: "-", Text: l, Old: i + 1})
		}
		for j, l := range y {
			out = append(out, diffLine{Op: "+", Text: l, New: j + 1})
		}
		return out
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	w := len(y) + 1
	lcs := make([]int32, (len(x)+1)*w)
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			out = append(out, diffLine{Op: " ", Text: x[i], Old: i + 1, New: j + 1})
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			out = append(out, diffLine{Op: "-", Text: x[i], Old: i + 1})
			i++
		default:
			out = append(out, diffLine{Op: "+", Text: y[j], New: j + 1})
			j++
		}
	}
	for ; i < len(x); i++ {
		out = append(out, diffLine{Op: "-", Text: x[i], Old: i + 1})
	}
	for ; j < len(y); j++ {
		out = append(out, diffLine{Op: "+", Text: y[j], New: j + 1})
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
