package event_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

func TestFanoutDeliversToEverySubscriber(t *testing.T) {
	f := event.NewFanout(nil)
	var all, logins, revocations eventtest.Recorder
	f.Subscribe(&all)
	f.Subscribe(&logins, event.LoginSucceeded, event.LoginFailed)
	f.Subscribe(&revocations, event.SessionRevoked)
	ctx := context.Background()
	sent := []event.Event{
		{Kind: event.LoginSucceeded, UserID: "u1"},
		{Kind: event.SessionRevoked, SessionID: "s1", Count: 1},
		{Kind: event.LoginFailed, Reason: event.ReasonThrottled},
		{Kind: event.SessionValidated, SessionID: "s1"},
	}
	for _, e := range sent {
		f.Publish(ctx, e)
	}
	if got := all.Events(); len(got) != len(sent) {
		t.Fatalf("the all-kinds subscriber got %d events, want %d", len(got), len(sent))
	} else {
		for i := range sent {
			if got[i] != sent[i] {
				t.Errorf("event %d: got %+v, want %+v (in publication order)", i, got[i], sent[i])
			}
		}
	}
	if got := logins.Events(); len(got) != 2 || got[0].Kind != event.LoginSucceeded || got[1].Kind != event.LoginFailed {
		t.Errorf("login subscriber got %+v", got)
	}
	if got := revocations.Events(); len(got) != 1 || got[0].SessionID != "s1" {
		t.Errorf("revocation subscriber got %+v", got)
	}
	if !f.Wants(event.LoginFailed) || !f.Wants(event.SessionValidated) {
		t.Error("Wants: false for a kind that has subscribers")
	}
	g := event.NewFanout(nil)
	g.Subscribe(&logins, event.LoginFailed)
	if g.Wants(event.SessionValidated) {
		t.Error("Wants: true for a kind nobody subscribed to")
	}
}

// A panicking subscriber is recovered and logged; the subscribers after it
// still get the event, and the publisher carries on.
func TestFanoutSurvivesAPanickingSubscriber(t *testing.T) {
	var logs bytes.Buffer
	f := event.NewFanout(slog.New(slog.NewJSONHandler(&logs, nil)))
	var after eventtest.Recorder
	f.Subscribe(event.SinkFunc(func(context.Context, event.Event) { panic("subscriber bug") }))
	f.Subscribe(&after)
	f.Publish(context.Background(), event.Event{Kind: event.KeyRotated, KID: "k1"})
	if got := after.Events(); len(got) != 1 || got[0].KID != "k1" {
		t.Fatalf("the subscriber after a panicking one got %+v", got)
	}
	if !strings.Contains(logs.String(), "subscriber bug") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
}

// Subscribing while events flow is safe (run with -race).
func TestFanoutSubscribeWhilePublishing(t *testing.T) {
	f := event.NewFanout(nil)
	var wg sync.WaitGroup
	var recs [8]eventtest.Recorder
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range recs {
			f.Subscribe(&recs[i], event.SessionCreated)
		}
	}()
	for range 1000 {
		f.Publish(context.Background(), event.Event{Kind: event.SessionCreated})
	}
	wg.Wait()
	f.Publish(context.Background(), event.Event{Kind: event.SessionCreated, SessionID: "last"})
	for i := range recs {
		ev := recs[i].Events()
		if len(ev) == 0 || ev[len(ev)-1].SessionID != "last" {
			t.Fatalf("subscriber %d missed the event published after it subscribed", i)
		}
	}
}

// The per-request events must cost no allocation when nobody wants them,
// and none when a subscriber takes them by value.
func TestPublishDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	e := event.Event{Kind: event.SessionValidated, SessionID: "s", UserID: "u", UserAgent: "ua"}
	f := event.NewFanout(nil)
	var other eventtest.Recorder
	f.Subscribe(&other, event.LoginFailed)
	if n := testing.AllocsPerRun(100, func() { f.Publish(ctx, e) }); n != 0 {
		t.Errorf("publishing a kind without subscribers: %v allocations", n)
	}
	var count int
	f.Subscribe(event.SinkFunc(func(_ context.Context, e event.Event) { count += e.Count }), event.SessionValidated)
	if n := testing.AllocsPerRun(100, func() { f.Publish(ctx, e) }); n != 0 {
		t.Errorf("publishing to a by-value subscriber: %v allocations", n)
	}
}
