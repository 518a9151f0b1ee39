package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twostep/twostep/internal/bounce"
	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/webhook"
)

// reportSources builds the webhooks that are configured (the others answer
// 404) and, when BOUNCE_IMAP_URL is set, the bounce mailbox reader.
func reportSources(cfg config.Reports, db *store.DB, now clock.Clock, log *slog.Logger, reg prometheus.Registerer) (*webhook.Handler, *bounce.Mailbox) {
	parsers := map[drip.Provider]webhook.Parser{}
	if len(cfg.SESTopics) > 0 {
		parsers[drip.ProviderSES] = &webhook.SNS{Topics: cfg.SESTopics, Clock: now}
	}
	if cfg.PostmarkUser != "" {
		parsers[drip.ProviderPostmark] = &webhook.PostmarkAuth{User: cfg.PostmarkUser, Password: cfg.PostmarkPassword}
	}
	if cfg.SendGridKey != nil {
		parsers[drip.ProviderSendGrid] = &webhook.SendGridSigned{Key: cfg.SendGridKey, Clock: now}
	}
	if cfg.MailgunKey != nil {
		parsers[drip.ProviderMailgun] = &webhook.MailgunSigned{Key: cfg.MailgunKey, Clock: now}
	}
	if cfg.StandardKey != nil {
		parsers[drip.ProviderGeneric] = &webhook.StandardWebhooks{Key: cfg.StandardKey, Clock: now}
	}
	for p := range parsers {
		log.Info("webhook on", "route", "/webhooks/"+string(p))
	}
	h := webhook.NewHandler(parsers, db, now, log, reg)
	if cfg.BounceIMAP == nil {
		return h, nil
	}
	log.Info("bounce mailbox on", "addr", cfg.BounceIMAP.Addr, "folder", cfg.BounceIMAP.Folder)
	return h, &bounce.Mailbox{Account: *cfg.BounceIMAP, Rec: db, Clock: now, Log: log, Count: h.Count}
}
