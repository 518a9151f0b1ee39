package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"

	"github.com/twostep/twostep/internal/admin"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/course"
	"github.com/twostep/twostep/internal/letter"
	"github.com/twostep/twostep/internal/mail"
	"github.com/twostep/twostep/internal/send"
	"github.com/twostep/twostep/internal/web"
)

// shutdownTimeout bounds how long in-flight requests may take after a
// signal; mail already handed to a worker finishes regardless.
const shutdownTimeout = 30 * time.Second

func serve(ctx context.Context, cfg config.Config, args []string, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"serve takes no arguments"}
	}
	log := newLogger(stderr)
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Nil when ADMIN_EMAIL and ADMIN_PASSWORD are unset: /admin is then 404.
	adminHandler, err := admin.New(ctx, admin.Deps{
		DB: a.db, Library: a.library, Letters: a.letters,
		Open:      mail.NewOpener(cfg.SMTP, cfg.OutboxDir, mailOptions(cfg)),
		Templates: a.tmpl, Lessons: lessonsFS(cfg),
		AdminEmail: cfg.AdminEmail, AdminPassword: cfg.AdminPassword,
		BaseURL: cfg.BaseURL, Log: log, Clock: a.clock,
	})
	if err != nil {
		return err
	}

	webhooks, mailbox := reportSources(cfg.Reports, a.db, a.clock, log, reg)

	nudge := make(chan struct{}, 1)
	c := a.letters.Course
	srv, err := web.New(a.db, a.letters.Signer, web.Options{
		Site:            web.Site{Title: c.Title, Tagline: c.Tagline, Language: c.Language, Lessons: c.LessonCount, SendHour: c.SendHour},
		Templates:       a.tmpl,
		SignupRateLimit: cfg.SignupRateLimit,
		Registry:        reg,
		Log:             log,
		Clock:           a.clock,
		Lessons:         &letter.Pages{Library: a.library, Letters: a.letters},
		Admin:           adminHandler,
		Webhooks:        webhooks,
		TrustedProxies:  cfg.TrustedProxies,
		Nudge: func() {
			select {
			case nudge <- struct{}{}:
			default: // a flush is already pending
			}
		},
	})
	if err != nil {
		return err
	}

	if cfg.SMTP == nil {
		log.Info("SMTP_URL is unset: mail is written as .eml files", "dir", cfg.OutboxDir)
	}
	sent := *c // the addresses mail goes out with: MAIL_FROM, when set, replaces from
	sent.From = a.letters.From
	for _, w := range course.AddressWarnings(&sent) {
		log.Warn(w.String())
	}
	outbox := a.outbox()
	engine := a.engine(send.NewMetrics(reg))

	httpSrv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}

	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var workers sync.WaitGroup
	workers.Go(func() { outbox.Run(workCtx, nudge) })
	if mailbox != nil {
		workers.Go(func() { mailbox.Run(workCtx, time.Minute) })
	}
	// SkipIfStillRunning: a pass longer than the schedule's interval is
	// not joined by a second one in the same process.
	sched := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := sched.AddFunc(cfg.SendSchedule, func() { engine.Pass(workCtx, nil) }); err != nil {
		return fmt.Errorf("SEND_SCHEDULE: %w", err)
	}
	sched.Start()

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.Info("twostep is serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String())
	if adminHandler != nil {
		log.Info("admin is on", "url", cfg.BaseURL.String()+"/admin/login", "email", cfg.AdminEmail)
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: finishing requests and mail in flight")
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutdownErr := httpSrv.Shutdown(sctx)
	stopWork()
	<-sched.Stop().Done() // a pass under way finishes the messages it started
	workers.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shut down HTTP: %w", shutdownErr)
	}
	log.Info("stopped")
	return nil
}
