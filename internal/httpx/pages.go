package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Pages are a surface's page templates by name, each parsed together with
// the surface's layout and executed from its "layout" template.
type Pages map[string]*template.Template

// ParsePages parses every dir/*.html page with dir/layout.html and funcs
// (parsed once, at start-up), and fails when a page in want is missing.
func ParsePages(fsys fs.FS, dir string, funcs template.FuncMap, want ...string) (Pages, error) {
	if fsys == nil {
		return nil, fmt.Errorf("%s: no templates", dir)
	}
	layout := dir + "/layout.html"
	names, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return nil, err
	}
	pages := Pages{}
	for _, n := range names {
		if n == layout {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, layout, n)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", n, err)
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	for _, w := range want {
		if pages[w] == nil {
			return nil, fmt.Errorf("page template %s/%s.html is missing", dir, w)
		}
	}
	return pages, nil
}

// errNoPage is a page name with no template.
var errNoPage = errors.New("no such page template")

// InternalMessage is what a reader or an admin reads when the fault is
// ours, on every surface.
const InternalMessage = "Something went wrong on our side. Please try again in a minute."

// Render writes page name with status and data, executed into a buffer
// first so that a template error becomes a clean 500 and never half a
// page. Headers the caller set on w are kept. The error is returned for
// the caller to log; the response is already written.
func (p Pages) Render(w http.ResponseWriter, status int, name string, data any) error {
	t := p[name]
	if t == nil {
		http.Error(w, InternalMessage, http.StatusInternalServerError)
		return fmt.Errorf("%w: %s", errNoPage, name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, InternalMessage, http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}
