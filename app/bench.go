package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"sentryhub/dispatcher/dispatchbench"
	"sentryhub/store"
)

const benchUsage = "Usage: sentryhub bench dispatch [--events N] [--subscriptions K] [--aggregates A] [--rate R] [--in-flight M] [--preload P] [--ordering both|global|aggregate]"

func runBench(ctx context.Context, m Main, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(m.Stderr, benchUsage)
		return flag.ErrHelp
	}
	sub, rest, err := subcommand(args, "dispatch")
	if err != nil {
		fmt.Fprintln(m.Stderr, benchUsage)
		return err
	}
	fs := m.flagSet("bench "+sub, "bench dispatch [flags]\n\n"+
		"Measures the webhook dispatcher end to end on a temporary database: the real\n"+
		"dispatcher delivers to an in-process loopback consumer that verifies every\n"+
		"signature with the contract's algorithm and checks the order (per aggregate,\n"+
		"or across the subscription under global ordering). Runs each ordering in turn\n"+
		"(global, the default, then aggregate) and prints a summary, then one JSON line\n"+
		"with every figure (for scripts), per run.")
	var o dispatchbench.Options
	fs.IntVar(&o.Events, "events", 20000, "events to append")
	fs.IntVar(&o.Subscriptions, "subscriptions", 1, "subscriptions, each receiving every event")
	fs.IntVar(&o.Aggregates, "aggregates", 1000, "distinct aggregates the events spread over (lanes per subscription)")
	fs.Float64Var(&o.Rate, "rate", 0, "events appended per second, one per transaction (0: batches of 500 as fast as possible)")
	fs.IntVar(&o.MaxInFlight, "in-flight", 64, "max_in_flight of each subscription (ordering aggregate)")
	fs.IntVar(&o.Preload, "preload", 0, "finished delivery rows inserted before the run (dispatch cost against a large table)")
	ordering := fs.String("ordering", "both", "subscription ordering: global, aggregate, or both (one run each)")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var orderings []string
	switch *ordering {
	case "both":
		orderings = []string{store.OrderingGlobal, store.OrderingAggregate}
	case store.OrderingGlobal, store.OrderingAggregate:
		orderings = []string{*ordering}
	default:
		return &ConfigError{Problems: []string{fmt.Sprintf("bench dispatch: --ordering %q: must be global, aggregate or both", *ordering)}}
	}
	if o.Events < 1 || o.Subscriptions < 1 || o.Aggregates < 1 || o.Rate < 0 || o.MaxInFlight < 1 || o.MaxInFlight > 256 || o.Preload < 0 {
		return &ConfigError{Problems: []string{"bench dispatch: --events, --subscriptions, --aggregates and --in-flight (up to 256) must be positive; --rate and --preload non-negative"}}
	}
	var faults []string
	for i, ord := range orderings {
		o.Ordering = ord
		inFlight := fmt.Sprintf("%d in flight", o.MaxInFlight)
		if ord == store.OrderingGlobal {
			inFlight = "one at a time"
		}
		fmt.Fprintf(m.Stderr, "bench dispatch: ordering %s, %d events x %d subscription(s), %d aggregates, rate %s, %s...\n",
			ord, o.Events, o.Subscriptions, o.Aggregates, rateText(o.Rate), inFlight)
		r, err := dispatchbench.Run(ctx, o)
		if err != nil {
			return fmt.Errorf("bench dispatch (ordering %s): %w", ord, err)
		}
		if i > 0 {
			fmt.Fprintln(m.Stdout)
		}
		fmt.Fprintf(m.Stdout, "ordering            %s\n", r.Ordering)
		fmt.Fprintf(m.Stdout, "deliveries          %d in %.2fs\n", r.Deliveries, r.ElapsedSeconds)
		fmt.Fprintf(m.Stdout, "throughput          %.0f verified deliveries/s\n", r.DeliveriesPerSec)
		fmt.Fprintf(m.Stdout, "commit->POST        p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", r.CommitToPOST.P50, r.CommitToPOST.P95, r.CommitToPOST.P99)
		fmt.Fprintf(m.Stdout, "peak RSS            %.1f MiB\n", r.PeakRSSMB)
		fmt.Fprintf(m.Stdout, "SQL statements      %d (%.3f per delivery)\n", r.Statements, r.StatementsPerDelivery)
		fmt.Fprintf(m.Stdout, "duplicates          %d, out of order %d, bad signatures %d\n", r.Duplicates, r.OutOfOrder, r.BadSignatures)
		fmt.Fprintf(m.Stdout, "machine             %d CPUs (GOMAXPROCS %d)\n", r.CPUs, r.GoMaxProcs)
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, string(line))
		if r.Duplicates != 0 || r.OutOfOrder != 0 || r.BadSignatures != 0 {
			faults = append(faults, ord)
		}
	}
	if len(faults) > 0 {
		return fmt.Errorf("bench dispatch: duplicates, out-of-order deliveries or bad signatures with ordering %s (must be 0 without faults)", strings.Join(faults, ", "))
	}
	return nil
}

func rateText(r float64) string {
	if r == 0 {
		return "unthrottled"
	}
	return fmt.Sprintf("%g/s", r)
}
