package dispatcher

import (
	"fmt"
	"slices"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
)

// fanout creates deliveries for the events after each active
// subscription's cursor. Subscriptions at the same cursor (normally all of
// them) share one read of the log, and each subscription's matches go in
// with one INSERT. It reports whether more events wait beyond this batch.
func (e *engine) fanout(t *store.EngineTx, eff effects, now time.Time) (bool, error) {
	groups := map[int64][]*subState{}
	for _, s := range e.subs {
		if s.deleting || s.actor == nil || s.sub.Status != store.SubscriptionActive {
			continue
		}
		if s.open+eff.of(s.sub.ID).openDelta >= s.sub.PendingCeiling {
			// At the ceiling: the rest of the backlog waits beyond the
			// cursor until deliveries finish (see refill).
			s.capped = true
			continue
		}
		s.capped = false
		groups[s.sub.Cursor] = append(groups[s.sub.Cursor], s)
	}
	if len(groups) == 0 {
		return false, nil
	}
	cursors := make([]int64, 0, len(groups))
	for c := range groups {
		cursors = append(cursors, c)
	}
	slices.Sort(cursors)
	refs := map[int64]*eventRef{}
	floor := e.d.cfg.VisibilityFloor
	more := false
	for _, c := range cursors {
		evs, err := t.EventsAfter(c, e.d.cfg.FanoutBatch)
		if err != nil {
			return false, err
		}
		if len(evs) == e.d.cfg.FanoutBatch {
			more = true
		}
		if floor > 0 {
			// The floor is a setting for parity with the seed's Postgres
			// deployment; see DESIGN.md: with one writer, ids commit in
			// order and there are no holes for it to cover.
			cutoff := now.Add(-floor)
			for i := range evs {
				if evs[i].VisibleAt.After(cutoff) {
					e.armFloor(evs[i].VisibleAt.Add(floor))
					evs = evs[:i]
					more = false
					break
				}
			}
		}
		if len(evs) > 0 && evs[len(evs)-1].ID > e.sweptHead {
			e.sweptHead = evs[len(evs)-1].ID
		}
		for _, s := range groups[c] {
			se := eff.of(s.sub.ID)
			headroom := s.sub.PendingCeiling - (s.open + se.openDelta)
			cursor := c
			var ids []int64
			var chosen []*eventRef
			for i := range evs {
				ev := &evs[i]
				if !s.matcher.Match(ev) {
					cursor = ev.ID
					continue
				}
				if int64(len(ids)) >= headroom {
					s.capped = true
					break
				}
				ref := refs[ev.ID]
				if ref == nil {
					if ref, err = newEventRef(ev); err != nil {
						return false, fmt.Errorf("envelope of event %d: %w", ev.ID, err)
					}
					refs[ev.ID] = ref
				}
				ids = append(ids, ev.ID)
				chosen = append(chosen, ref)
				cursor = ev.ID
			}
			if len(ids) > 0 {
				dids, err := t.InsertDeliveries(s.sub.ID, ids, nil, now)
				if err != nil {
					return false, err
				}
				for i, id := range dids {
					se.add = append(se.add, &delivery{id: id, ev: chosen[i]})
				}
				se.openDelta += int64(len(ids))
			}
			if cursor > c {
				se.cursor = cursor
			}
			if len(ids) > 0 {
				// Not known to be stuck until the actor, having queued
				// these (fresh lanes, perhaps), says so.
				se.stuck, se.stuckSet = false, true
			}
		}
	}
	return more, nil
}

func (e *engine) armFloor(at time.Time) {
	if e.floorC != nil && !e.floorAt.After(at) {
		return
	}
	e.floorAt, e.floorC = at, clock.At(e.d.clock, at)
}

// refill reports whether deliveries finished for a subscription whose
// fan-out stopped at its pending ceiling: the freed slots take the next
// events of its backlog.
func (e *engine) refill(recs []record) bool {
	for _, r := range recs {
		if r.terminal {
			if s := e.subs[r.sub]; s != nil && s.capped {
				return true
			}
		}
	}
	return false
}
