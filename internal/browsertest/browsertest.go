// Package browsertest starts headless Chromium for tests that drive real
// pages (through chromedp).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// find is $CHROMIUM_PATH, else the first Chromium or Chrome on PATH; when
// there is none it says what is missing.
func find() (path, missing string) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", "CHROMIUM_PATH=" + p + " is not an executable browser"
		}
		return p, ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)"
}

// New starts a headless browser with a fresh profile and returns a tab's
// context, which ends after timeout. Without a browser the test is
// skipped, except under CI=true, where a missing browser must not pass
// silently.
func New(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path, missing := find()
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// This machine's network is closed: without these Chromium keeps
		// trying to reach Google's services.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	// Registered after t.TempDir, so the browser has exited before its
	// profile folder is removed.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
	})
	return tabCtx
}
