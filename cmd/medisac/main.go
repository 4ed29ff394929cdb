// Command medisac is the medical-sector security platform: a clinic's or
// hospital's security workbench and a medical ISAC, in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/medisac/medisac/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "medisac:", err)
		os.Exit(app.ExitCode(err))
	}
}
