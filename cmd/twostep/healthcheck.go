package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/twostep/twostep/internal/config"
)

// healthcheck asks the local server's /readyz, for container health checks
// in images that have no shell or curl. Exit 0 when it answers 200.
func healthcheck(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	_, port, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil {
		return &config.Error{Var: "LISTEN_ADDR", Msg: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
