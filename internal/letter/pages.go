package letter

import (
	"context"
	"html/template"
	"strings"

	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/drip"
)

// Pages serves lessons to the reader's web pages from the current
// revisions, rendered the same way as the emails.
type Pages struct {
	Library *course.Library
	Letters *Letters
}

// Title is lesson n's current title, "" when there is no lesson n.
func (p *Pages) Title(ctx context.Context, n int) (string, error) {
	cur, err := p.Library.Current(ctx)
	if err != nil {
		return "", err
	}
	if ls := cur.Course.Lesson(n); ls != nil {
		return ls.Title, nil
	}
	return "", nil
}

// Titles maps every lesson number to its current title, for lists.
func (p *Pages) Titles(ctx context.Context) (map[int]string, error) {
	cur, err := p.Library.Current(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(cur.Course.Lessons))
	for _, ls := range cur.Course.Lessons {
		out[ls.Number] = ls.Title
	}
	return out, nil
}

// Page is lesson n's body as the reader gets it.
func (p *Pages) Page(ctx context.Context, n int, sub *drip.Subscriber) (template.HTML, error) {
	cur, err := p.Library.Current(ctx)
	if err != nil {
		return "", err
	}
	ls := cur.Course.Lesson(n)
	if ls == nil {
		return "", drip.ErrNotFound
	}
	return p.Letters.Renderer.LessonPage(cur.Course, ls, p.Letters.Recipient(sub))
}

// Reflection is the question under the lesson's "## Reflect" heading.
func (p *Pages) Reflection(ctx context.Context, n int) (string, error) {
	cur, err := p.Library.Current(ctx)
	if err != nil {
		return "", err
	}
	ls := cur.Course.Lesson(n)
	if ls == nil {
		return "", nil
	}
	_, q, ok := strings.Cut(ls.Body, "## Reflect")
	if !ok {
		return "", nil
	}
	return strings.Join(strings.Fields(q), " "), nil
}
