package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// demoEmail is the demo's admin account.
const demoEmail = "admin@demo.local"

func runDemo(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("demo", "demo [flags]\n\nStarts the hub for a first look: SQLite under --data-dir, an encryption key in a\n0600 file there (created once, never printed), an admin user with a fresh one-time\npassword, demo data, and a local webhook sink. Not for production: use serve.")
	getenv := func(k string) string {
		if k == "SENTRY_ENCRYPTION_KEY" {
			return "" // demo always uses its own key file
		}
		return m.Getenv(k)
	}
	cfg, err := loadConfig(fs, args, getenv, loadOptions{})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	key, err := demoKey(filepath.Join(cfg.DataDir, "demo-encryption.key"))
	if err != nil {
		return err
	}
	cfg.EncryptionKey = key
	log := m.newLogger(cfg.LogLevel)
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	password, err := demoAdmin(ctx, db)
	if err != nil {
		return err
	}
	ready := m.Ready
	m.Ready = func(url string) {
		fmt.Fprintf(m.Stdout, "\nSentry Hub demo is running.\n\n  Admin UI:  %s/\n  Email:     %s\n  Password:  %s   (one-time: a new one is printed at every demo start)\n\nData lives in %s. Press Ctrl+C to stop.\n\n",
			url, demoEmail, password, cfg.DataDir)
		if ready != nil {
			ready(url)
		}
	}
	return m.serve(ctx, cfg, db, log, func(ctx context.Context, h *hub) error {
		return seedDemo(ctx, h)
	})
}

// demoKey reads the demo's key file, creating it (0600) on first use.
func demoKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if _, err := parseKey(string(b)); err != nil {
			return "", fmt.Errorf("demo key file %s: %v", path, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read demo key: %w", err)
	}
	var k fernet.Key
	if err := k.Generate(); err != nil {
		return "", fmt.Errorf("generate demo key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create demo key file: %w", err)
	}
	if _, err := f.WriteString(k.Encode() + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write demo key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write demo key file: %w", err)
	}
	return k.Encode(), nil
}

// demoAdmin makes sure the demo admin exists and gives it a fresh random
// password, returned for printing once.
func demoAdmin(ctx context.Context, db *store.DB) (string, error) {
	pw := rand.Text()[:20]
	u, err := db.UserByEmail(ctx, demoEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := db.CreateUser(ctx, "demo", demoEmail, store.RoleAdmin, pw); err != nil {
			return "", fmt.Errorf("create demo admin: %w", err)
		}
	case err != nil:
		return "", err
	default:
		if err := db.SetPassword(ctx, "demo", u.ID, pw); err != nil {
			return "", fmt.Errorf("reset demo admin password: %w", err)
		}
	}
	return pw, nil
}

// seedDemo adds a warehouse, items, stock and orders in various states the
// first time the demo runs on a data directory.
func seedDemo(ctx context.Context, h *hub) error {
	db := h.db
	whs, err := db.ListWarehouses(ctx)
	if err != nil || len(whs) > 0 {
		return err
	}
	meta := store.OpMeta{Actor: "demo"}
	wh, err := db.CreateWarehouse(ctx, meta, store.WarehouseInput{Code: "MAIN", Name: "Main warehouse"})
	if err != nil {
		return fmt.Errorf("seed demo warehouse: %w", err)
	}
	whID := wh.Value.ID
	items := []struct {
		sku, name, barcode string
		stock              int64
	}{
		{"WIDGET-1", "Blue widget", "4006381333931", 120},
		{"GADGET-9", "Gadget, large", "4006381333948", 40},
		{"BOX-S", "Shipping box, small", "", 500},
		{"TAPE-50", "Packing tape 50 m", "", 60},
	}
	for _, it := range items {
		if _, err := db.UpsertItem(ctx, meta, store.ItemInput{SKU: it.sku, Name: it.name, Barcode: it.barcode}); err != nil {
			return fmt.Errorf("seed demo item: %w", err)
		}
		if _, err := db.ApplyAdjustment(ctx, meta, store.AdjustmentInput{WarehouseID: whID, SKU: it.sku, Delta: it.stock, Reason: "opening stock"}); err != nil {
			return fmt.Errorf("seed demo stock: %w", err)
		}
	}
	shipTo := []byte(`{"name":"Ada Lovelace","street":"12 Analytical Way","city":"London","postal_code":"N1 9GU","country":"GB"}`)
	for i, stage := range []string{"shipped", "packed", "picked", "open", "open"} {
		so, err := db.CreateSalesOrder(ctx, meta, store.SalesOrderInput{
			OrderNumber: fmt.Sprintf("SO-%d", 1001+i), WarehouseID: whID, ShipTo: shipTo,
			Lines: []store.OrderLine{{SKU: "WIDGET-1", Qty: int64(1 + i)}, {SKU: "BOX-S", Qty: 1}},
		})
		if err != nil {
			return fmt.Errorf("seed demo order: %w", err)
		}
		id := so.Value.ID
		steps := map[string]int{"open": 0, "picked": 1, "packed": 2, "shipped": 3}[stage]
		if steps >= 1 {
			if _, err := db.PickSalesOrder(ctx, meta, id); err != nil {
				return fmt.Errorf("seed demo pick: %w", err)
			}
		}
		if steps >= 2 {
			if _, err := db.PackSalesOrder(ctx, meta, id); err != nil {
				return fmt.Errorf("seed demo pack: %w", err)
			}
		}
		if steps >= 3 {
			if _, err := db.ShipSalesOrder(ctx, meta, id, store.ShipInput{Carrier: "UPS", Tracking: "1Z999AA10123456784"}); err != nil {
				return fmt.Errorf("seed demo ship: %w", err)
			}
		}
	}
	if _, err := db.CreatePurchaseOrder(ctx, meta, store.PurchaseOrderInput{PONumber: "PO-2001", WarehouseID: whID, Supplier: "ACME Supplies",
		Lines: []store.OrderLine{{SKU: "GADGET-9", Qty: 24}, {SKU: "TAPE-50", Qty: 12}}}); err != nil {
		return fmt.Errorf("seed demo purchase order: %w", err)
	}
	h.log.Info("demo data seeded", slog.Int64("warehouse_id", whID))
	return nil
}
