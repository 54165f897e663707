// Command sentryhub is the integration hub of a small warehouse: one binary,
// one SQLite file. See README.md; `sentryhub help` lists the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"sentryhub/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	}.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
