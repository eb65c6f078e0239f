// Command kubently-api is the Kubently API server: the REST API, executor
// streams and (later) the agent endpoints, on the embedded store by default
// or on Redis for several replicas. Configuration: docs/configuration.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/server"
	"github.com/kubently/kubently/internal/telemetry"
)

func main() {
	cfg, err := config.LoadAPI(config.Source{Args: os.Args[1:]})
	if config.IsHelp(err) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubently-api: configuration:", err)
		os.Exit(2)
	}
	log := telemetry.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg, log); err != nil {
		log.Error("kubently-api failed", "err", err)
		os.Exit(1)
	}
}
