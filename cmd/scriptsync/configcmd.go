package main

import (
	"context"
	"fmt"

	"github.com/scriptsync/scriptsync/config"
)

// runConfig implements "scriptsync config check": print the effective configuration with
// secrets masked, and exit non-zero when it is invalid.
func runConfig(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{fmt.Errorf("usage: scriptsync config check [--config FILE] [--dev]")}
	}
	fs, path := e.flags("config check")
	dev := fs.Bool("dev", false, "start from the defaults of scriptsync dev")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	base := config.Default()
	if *dev {
		base = config.DevDefault()
	}
	cfg, loadErr := e.loadConfig(*path, base)
	if cfg != nil {
		out, err := cfg.MaskedYAML()
		if err != nil {
			return err
		}
		_, _ = e.stdout.Write(out)
	}
	if loadErr != nil {
		return loadErr
	}
	_, _ = fmt.Fprintln(e.stderr, "configuration is valid")
	return nil
}
