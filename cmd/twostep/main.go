// Command twostep is the whole service: serve, migrate, send, lessons.
// main only wires the parts together; see run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // subscribers' zones must resolve even in a slim container

	"github.com/twostep/twostep/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries a chosen exit status with its message already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "twostep:", err)
	var ce *config.Error
	var ue usageError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return 2
	}
	return 1
}

const usage = `usage: twostep <command> [arguments]

commands:
  serve                      migrate, sync lessons, serve HTTP and send mail
  migrate                    apply database migrations and sync lessons
  send [--now RFC3339]       run one delivery pass and exit
  lessons check [DIR]        validate a course folder (default: the shipped course)
  lessons preview N [--format html|text|eml]
                             print lesson N exactly as a subscriber gets it
  lessons export DIR         write the current lesson revisions as files
  subscribers import FILE.csv [--confirm]
                             add subscribers from CSV (progress bar on a terminal);
                             --confirm asks those without consent to confirm
  subscribers export [FILE]  write every subscriber as CSV (default: stdout)
  healthcheck                exit 0 when the local server's /readyz answers 200
  dkim keygen [--type rsa|ed25519] [--out FILE]
                             make a DKIM key and print its DNS record

configuration comes from the environment; see README.md`

// run is the program: args without the program name, getenv for the
// configuration, and where to print.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	stopProfile, err := startCPUProfile(getenv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopProfile()) }()
	if cmd == "dkim" {
		return dkimCmd(rest, getenv, stdout, stderr)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, rest, stderr)
	case "migrate":
		return migrate(ctx, cfg, rest, stdout, stderr)
	case "send":
		return sendCmd(ctx, cfg, rest, stdout, stderr)
	case "lessons":
		return lessonsCmd(ctx, cfg, rest, stdout, stderr)
	case "subscribers":
		return subscribersCmd(ctx, cfg, rest, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg, stdout)
	default:
		fmt.Fprintln(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
