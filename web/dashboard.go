package web

import (
	"errors"
	"net/http"

	"sentryhub/store"
)

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return err
	}
	admins := 0
	for _, u := range users {
		if u.Role == store.RoleAdmin {
			admins++
		}
	}
	toks, err := s.db.ListTokens(ctx)
	if err != nil {
		return err
	}
	active := 0
	for _, t := range toks {
		if t.RevokedAt == nil {
			active++
		}
	}
	d := dashboardData{Layout: s.layoutFor(r, "Dashboard", "/"), Admins: admins, Viewers: len(users) - admins, ActiveTokens: active, AuditOK: true}
	n, err := s.db.VerifyAudit(ctx)
	d.AuditEntries = n
	var ce *store.AuditChainError
	switch {
	case errors.As(err, &ce):
		d.AuditOK, d.AuditProblem = false, ce.Error()
	case err != nil:
		return err
	}

	whs, err := s.db.ListWarehouses(ctx)
	if err != nil {
		return err
	}
	d.Warehouses = len(whs)
	d.OpenCircuits = s.openCircuits(whs)
	switch ev, err := s.db.LatestEvent(ctx); {
	case err == nil:
		d.LastEvent = &dashboardEvent{ID: ev.ID, Type: ev.EventType, At: s.at(ev.VisibleAt)}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}

	subs, err := s.db.Subscriptions(ctx)
	if err != nil {
		return err
	}
	d.Subscriptions = len(subs)
	for _, sub := range subs {
		if sub.Status == store.SubscriptionPaused {
			d.PausedSubs = append(d.PausedSubs, dashboardSub{ID: sub.ID, Name: sub.Name, Reason: string(sub.PauseReason)})
		}
		st, err := s.db.WebhookStats(ctx, sub.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		ds := dashboardSub{ID: sub.ID, Name: sub.Name, Reason: string(sub.PauseReason),
			Dead: st.Counts[store.DeliveryDead], Open: st.Counts[store.DeliveryPending] + st.Counts[store.DeliveryInFlight],
			Ceiling: sub.PendingCeiling}
		if ds.Dead > 0 {
			d.DeadSubs = append(d.DeadSubs, ds)
		}
		if sub.Status == store.SubscriptionActive && sub.LastFailureAt != nil &&
			(sub.LastSuccessAt == nil || sub.LastFailureAt.After(sub.LastSuccessAt.Time)) {
			ds.Since = s.atStore(*sub.LastFailureAt)
			if sub.LastFailureKind != nil {
				ds.Reason = *sub.LastFailureKind
			}
			d.FailingSubs = append(d.FailingSubs, ds)
		}
		if sub.Status == store.SubscriptionActive && ds.Open > 0 {
			// A backlog needs attention when it grows (more retrying than an
			// hour ago) or nears the ceiling, where the subscription pauses.
			if ds.Retrying, ds.RetryingHourAgo, err = s.db.RetryBacklog(ctx, sub.ID, s.clock.Now()); err != nil {
				return err
			}
			if ds.Retrying > ds.RetryingHourAgo || ds.Open*5 >= sub.PendingCeiling*4 {
				d.BacklogSubs = append(d.BacklogSubs, ds)
			}
		}
		if s.webhooks == nil {
			continue
		}
		ok, err := s.webhooks.SecretReadable(ctx, sub.ID)
		if err != nil {
			return err
		}
		if !ok {
			d.UnreadableSubs = append(d.UnreadableSubs, dashboardSub{ID: sub.ID, Name: sub.Name})
		}
	}

	states, err := s.db.ListSyncStates(ctx, "", 0)
	if err != nil {
		return err
	}
	for _, st := range states {
		if st.ConsecutiveErrors > 0 || st.Status == store.SyncError {
			d.FailingSyncs = append(d.FailingSyncs, dashboardSync{Connector: st.Connector, WarehouseID: st.WarehouseID,
				SyncType: st.SyncType, Errors: st.ConsecutiveErrors, Status: string(st.Status), Message: st.LastErrorMessage})
		} else {
			d.HealthySyncs++
		}
	}
	act, err := s.db.Activity(ctx, s.clock.Now(), 24)
	if err != nil {
		return err
	}
	d.Chart = newActivityChart(act)
	if d.Alerts, err = s.firingAlerts(ctx); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, dashboardPage(d))
}
