package connectors

import (
	"context"
	"fmt"

	"sentryhub/store"
)

// Instance builds connector name for warehouseID outside a sync run, with
// its stored settings and credentials and a sink over the store: what a
// provider webhook or an OAuth callback needs. A connector that is not
// registered matches store.ErrNotFound; missing settings give a
// *ConfigError.
func (r *Runner) Instance(ctx context.Context, name string, warehouseID int64) (Env, Connector, error) {
	info, factory, ok := r.deps.Registry.Lookup(name)
	if !ok {
		return Env{}, nil, fmt.Errorf("connector %q: %w", name, store.ErrNotFound)
	}
	return r.build(ctx, info, factory, warehouseID, nil)
}
