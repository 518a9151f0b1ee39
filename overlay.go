package twostep

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// TemplatesOver lays a custom templates folder (TEMPLATES_DIR) over the
// embedded Templates: a file the folder holds is read from it, and a file
// it lacks (a template added by a later version, such as email/link.html)
// is read from the embedded copy, so an operator's older folder keeps
// working after an upgrade. missing lists the files taken from the
// embedded copy, for the start-up log. A file the folder holds is never
// replaced, so one that does not parse still fails when it is parsed.
func TemplatesOver(custom fs.FS) (fsys fs.FS, missing []string, err error) {
	err = fs.WalkDir(Templates, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, err := fs.Stat(custom, name); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, name)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the templates folder: %w", err)
	}
	return overlay{top: custom, base: Templates}, missing, nil
}

// overlay reads top, and base for what top does not hold.
type overlay struct{ top, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return o.base.Open(name)
	}
	return f, err
}

// ReadDir lists both folders' entries, top's where both have a name, so
// that fs.Glob ("web/*.html") finds the embedded pages too.
func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	top, terr := fs.ReadDir(o.top, name)
	base, berr := fs.ReadDir(o.base, name)
	if terr != nil && !errors.Is(terr, fs.ErrNotExist) {
		return nil, terr
	}
	if terr != nil && berr != nil {
		return nil, terr
	}
	out := top
	for _, e := range base {
		if !slices.ContainsFunc(top, func(t fs.DirEntry) bool { return t.Name() == e.Name() }) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}
