package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sentryhub/connectors/manifest"
	"sentryhub/store"
)

// runConnector is `sentryhub connector check PATH...`: the registry's
// validation of manifests, from the command line, before a restart.
func runConnector(ctx context.Context, m Main, args []string) error {
	if len(args) > 0 && args[0] == "reset-sync" {
		return runResetSync(ctx, m, args[1:])
	}
	fs := m.flagSet("connector", "connector check PATH...\n\nValidates connector manifests: each PATH is a manifest file, or a directory\nholding manifest.yaml. Mapping documents named by its streams are read from\nthe manifest's directory. Prints every problem as file:line:column: field: message.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 || fs.Arg(0) != "check" {
		fs.Usage()
		return errUsage
	}
	bad := 0
	for _, p := range fs.Args()[1:] {
		n, err := checkManifest(m, p)
		if err != nil {
			return err
		}
		bad += n
	}
	if bad > 0 {
		return fmt.Errorf("%d problem(s) found", bad)
	}
	return nil
}

// runResetSync is `sentryhub connector reset-sync`: the audited way out of
// a sync stuck in running, for when the worker that held it is gone. (The
// seed's UPDATE ... SET sync_status = 'idle' fails this schema's rule that
// only a running row holds a run id.)
func runResetSync(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("connector reset-sync", "connector reset-sync --connector NAME --warehouse ID --type orders|items|inventory|fulfillment|fulfillment_health")
	name := fs.String("connector", "", "connector name (required)")
	wh := fs.Int64("warehouse", 0, "warehouse id (required)")
	typ := fs.String("type", "", "sync type: orders, items, inventory or fulfillment (required)")
	cfg, err := loadConfig(fs, args, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	if *name == "" || *wh <= 0 || *typ == "" {
		fs.Usage()
		return errUsage
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.ResetSync(ctx, m.cliActor(), store.SyncKey{Connector: *name, WarehouseID: *wh, SyncType: *typ})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s/%d/%s is %s again\n", *name, *wh, *typ, st.Status)
	return nil
}

// checkManifest validates one path and prints its problems; the count is
// how many.
func checkManifest(m Main, p string) (int, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", p, err)
	}
	dir, name := p, manifest.FileName
	if !fi.IsDir() {
		dir, name = filepath.Dir(p), filepath.Base(p)
	}
	src, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", p, err)
	}
	mf, err := manifest.Parse(filepath.ToSlash(filepath.Join(dir, name)), src, os.DirFS(dir), ".")
	var el manifest.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			fmt.Fprintln(m.Stdout, e.Error())
		}
		return len(el), nil
	}
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(m.Stdout, "%s: ok (connector %s, capabilities %v, %d streams, %d write actions)\n",
		filepath.Join(dir, name), mf.Key, mf.Caps, len(mf.Streams), len(mf.Writes))
	return 0, nil
}
