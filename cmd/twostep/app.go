package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/twostep/twostep"
	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/token"
)

// app is the parts every database-backed command shares.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	library *course.Library
	letters *letter.Letters
	tmpl    fs.FS
	// clock is the one wall clock every part is handed. The time a
	// delivery runs as of (`send --now`) is not a clock: it is an argument
	// of the pass and the flush (sendCmd).
	clock clock.Clock
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// lessonsFS is the embedded course unless LESSONS_DIR overrides it.
func lessonsFS(cfg config.Config) fs.FS {
	if cfg.LessonsDir != "" {
		return os.DirFS(cfg.LessonsDir)
	}
	return twostep.Lessons
}

// templatesFS is TEMPLATES_DIR over the embedded copy: each template the
// folder lacks comes from the embedded copy, with one log line apiece.
func templatesFS(cfg config.Config, log *slog.Logger) (fs.FS, error) {
	if cfg.TemplatesDir == "" {
		return twostep.Templates, nil
	}
	fsys, missing, err := twostep.TemplatesOver(os.DirFS(cfg.TemplatesDir))
	if err != nil {
		return nil, fmt.Errorf("TEMPLATES_DIR %s: %w", cfg.TemplatesDir, err)
	}
	for _, name := range missing {
		log.Info("template not in TEMPLATES_DIR; using the built-in one", "template", name, "dir", cfg.TemplatesDir)
	}
	return fsys, nil
}

// openApp connects, migrates, imports changed lesson files and prepares
// rendering and signing.
func openApp(ctx context.Context, cfg config.Config, log *slog.Logger) (*app, error) {
	files, problems := course.Load(lessonsFS(cfg))
	if len(problems) > 0 {
		return nil, fmt.Errorf("the course is not valid (run `twostep lessons check`):\n%w", problems)
	}
	tmpl, err := templatesFS(cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, tmpl: tmpl}
	if err := a.prepare(ctx, files); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// openCurrent is openApp and the course as it stands now, for the commands
// that read it.
func openCurrent(ctx context.Context, cfg config.Config, log *slog.Logger) (*app, *course.Current, error) {
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	cur, err := a.library.Current(ctx)
	if err != nil {
		a.close()
		return nil, nil, err
	}
	return a, cur, nil
}

func (a *app) prepare(ctx context.Context, files *course.Course) error {
	if err := a.db.Migrate(ctx, twostep.Migrations, a.log); err != nil {
		return err
	}
	a.library = &course.Library{DB: a.db, Base: files}
	added, err := a.library.Sync(ctx, a.clock.Now())
	if err != nil {
		return err
	}
	if added > 0 {
		a.log.Info("lesson files imported as new revisions", "count", added)
	}
	c, err := a.library.Current(ctx)
	if err != nil {
		return err
	}
	renderer, err := course.NewRenderer(a.tmpl)
	if err != nil {
		return fmt.Errorf("load email templates: %w", err)
	}
	key, err := a.db.SecretKey(ctx, a.cfg.SecretKey)
	if err != nil {
		return err
	}
	signer, err := token.NewSigner(key)
	if err != nil {
		return err
	}
	from := a.cfg.MailFrom
	if from == "" {
		from = c.Course.From
	}
	warnDKIMAlignment(a.log, a.cfg.DKIM, from)
	a.letters = &letter.Letters{Course: c.Course, Renderer: renderer, Signer: signer, BaseURL: a.cfg.BaseURL.String(), From: from,
		Bounces: a.cfg.Reports.BounceAddress}
	return nil
}

func (a *app) close() { a.db.Close() }

func migrate(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"migrate takes no arguments"}
	}
	a, err := openApp(ctx, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.close()
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}
