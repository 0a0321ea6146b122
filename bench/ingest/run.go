package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
)

// run is one whole run: start (or reach) the server, set up devices, load,
// measure, check, baseline, stop. It returns the report even with an
// error when there is one to show.
func run(ctx context.Context, cfg *Config, logw io.Writer) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	srv := &server{HTTP: cfg.TargetHTTP, MQTT: cfg.TargetMQTT, Kafka: cfg.TargetKafka, NATS: cfg.TargetNATS, Pid: cfg.TargetPid}
	if cfg.TargetHTTP == "" {
		var err error
		if srv, err = startServer(ctx, cfg, logw); err != nil {
			return nil, err
		}
		defer srv.stop()
	}
	a := &api{base: srv.HTTP, user: cfg.User, pass: cfg.Password, http: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}}
	nk := 0
	if cfg.KafkaRate > 0 {
		nk = cfg.KafkaDevices
	}
	ids, err := setup(ctx, a, cfg, cfg.Devices+nk)
	if err != nil {
		return nil, err
	}
	progress(logw, "%d devices created", len(ids))
	kdevs := make([]*device, nk)
	for i, id := range ids[cfg.Devices:] {
		kdevs[i] = &device{id: id, viaKafka: true}
	}
	ids = ids[:cfg.Devices]

	rep := &Report{Devices: cfg.Devices, Rate: cfg.Rate, Duration: cfg.Duration, Pid: srv.Pid, KafkaOn: cfg.Kafka,
		ReadingBytes: len(dojot.Reading(cfg.Tenant, ids[0], time.Now().UnixMilli(), payload(int(cfg.Rate*cfg.Duration.Seconds()/float64(cfg.Devices)))))}
	devs := make([]*device, len(ids))
	for i, id := range ids {
		devs[i] = &device{id: id, topic: cfg.Tenant + ":" + id + "/attrs"}
	}
	base := time.Now()
	err = connect(ctx, logw, cfg, srv.MQTT, devs, base)
	defer func() {
		for _, d := range devs {
			if d.client != nil {
				d.client.Disconnect(100)
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	progress(logw, "%d clients connected, warm-up readings acknowledged", len(devs))
	if len(kdevs) > 0 {
		if err := produceWarmUp(ctx, srv.Kafka, cfg.Tenant, kdevs, base); err != nil {
			return nil, err
		}
		progress(logw, "%d legacy agent devices' warm-up readings in Kafka", len(kdevs))
	}
	all := append(slices.Clip(devs), kdevs...)

	// Followers of history and Kafka run until the end of the drain.
	follow, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	var pollers []*historyPoller
	var wgPoll sync.WaitGroup
	if cfg.History != "off" {
		if note := probeHistory(ctx, a, devs[0].id); note != "" {
			if cfg.History == "on" {
				return nil, errors.New(note)
			}
			rep.HistoryNote = note
			progress(logw, "%s: history not measured", note)
		} else {
			step := max(len(devs)/cfg.HistoryDevices, 1)
			rep.HistoryEvery = fmt.Sprintf("%d devices polled every %v", min(cfg.HistoryDevices, len(devs)), cfg.HistoryPoll)
			for i := 0; i < len(devs) && len(pollers) < cfg.HistoryDevices; i += step {
				p := &historyPoller{d: devs[i]}
				pollers = append(pollers, p)
				wgPoll.Add(1)
				go func() { defer wgPoll.Done(); p.run(follow, a, cfg.HistoryPoll, base) }()
			}
		}
	} else {
		rep.HistoryNote = "-history=off"
	}
	var kw *kafkaWatch
	if cfg.Kafka {
		kw = newKafkaWatch(devs, base)
		if err := kw.start(follow, srv.Kafka, cfg.Tenant+".device-data"); err != nil {
			return nil, err
		}
	}
	var nw *notifyWatch
	if cfg.Flows > 0 && cfg.Kafka {
		nw = newNotifyWatch(all, cfg.Flows, cfg.FlowsEvery)
		if err := nw.start(follow, srv.Kafka, cfg.Tenant+".dojot.notifications", base); err != nil {
			return nil, err
		}
		progress(logw, "%d flows on, reading %s.dojot.notifications", cfg.Flows, cfg.Tenant)
	}
	var ws *wsWatch
	if cfg.KafkaWS > 0 {
		ws = newWSWatch(all, base)
		if err := ws.start(ctx, a, cfg.KafkaWS, cfg.Tenant); err != nil {
			return nil, err
		}
		defer ws.close()
		progress(logw, "%d Kafka WS sockets open", cfg.KafkaWS)
		time.Sleep(time.Second) // their feeds are live
	}
	lw := &lagWatch{}
	if cfg.Flows > 0 && srv.NATS != "" {
		fl, err := newFlowsLag(ctx, srv.NATS)
		if err != nil {
			return nil, err
		}
		defer fl.close()
		lw.flows = fl
	}
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	var wgLag sync.WaitGroup
	wgLag.Go(func() { lw.run(lagCtx, a, base, 250*time.Millisecond) })

	// The window.
	cpu0, err := procCPUIf(srv.Pid)
	if err != nil {
		return nil, err
	}
	profiled := make(chan error, 1)
	if cfg.CPUProfile != "" && srv.Pprof != "" {
		go func() { profiled <- cpuProfile(ctx, srv.Pprof, cfg.Duration, cfg.CPUProfile) }()
	} else {
		profiled <- nil
	}
	self0 := selfCPU()
	load0 := loadavg()
	start := time.Since(base) + 100*time.Millisecond
	progress(logw, "load: %.0f msg/s for %v", cfg.Rate, cfg.Duration)
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() { defer wg.Done(); d.publish(ctx, cfg, i, len(devs), base, start) }()
	}
	var produceErr error
	if len(kdevs) > 0 {
		wg.Go(func() {
			rep.KafkaInWindow, produceErr = produceLoad(ctx, srv.Kafka, cfg.Tenant, kdevs, cfg.KafkaRate, base, start, cfg.Duration)
		})
	}
	loaded := make(chan struct{})
	go report10s(loaded, logw, devs, base, start)
	wg.Wait()
	close(loaded)
	end := time.Since(base)
	lw.windowEnded()
	cpu1, _ := procCPUIf(srv.Pid)
	rep.LoadgenCPU = selfCPU() - self0
	rep.CPU = cpu1 - cpu0
	rep.Load = load0 + " / " + loadavg()
	rep.Window = end - start
	if srv.Pid > 0 {
		rep.RSS, rep.PeakRSS, _ = procMem(srv.Pid)
	}
	for _, d := range devs {
		rep.Sent += d.sent
		rep.Behind += d.behind
		rep.Retried += d.retried
		rep.Failed += d.failed
		rep.Acked += d.acked
		rep.PubAck.add(d.puback...)
		rep.Lag.add(d.lag...)
		if rep.FirstErr == nil && d.err != nil {
			rep.FirstErr = fmt.Errorf("device %s: %w", d.id, d.err)
		}
	}
	for _, d := range kdevs {
		rep.KafkaIn.sent += d.sent
		rep.KafkaIn.acked += d.acked
		rep.KafkaIn.failed += d.failed
		rep.KafkaIn.ack.add(d.puback...)
	}
	rep.KafkaIn.on, rep.KafkaIn.err = len(kdevs) > 0, produceErr
	if err := <-profiled; err != nil {
		progress(logw, "cpu profile: %v", err)
	} else if cfg.CPUProfile != "" {
		progress(logw, "cpu profile of the window in %s (go tool pprof -top %s)", cfg.CPUProfile, cfg.CPUProfile)
	}
	rep.Reconnects = reconnects.Load()
	progress(logw, "window over: %d sent, %d acked in %v", rep.Sent, rep.Acked, rep.Window.Round(time.Millisecond))
	if srv.exited() {
		return rep, fmt.Errorf("dojot exited during the load:\n%s", srv.lastLines())
	}

	// Drain: history and Kafka may show the last readings later.
	deadline := time.Now().Add(cfg.Drain)
	endAt := time.Now()
	expected := 0 // readings of the window acknowledged, every source
	for _, d := range all {
		expected += d.acked
	}
	if len(pollers) > 0 {
		for _, p := range pollers {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, maxAck := p.d.acks(); p.shown() >= maxAck {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if kw != nil {
		for time.Now().Before(deadline) && ctx.Err() == nil && kw.missing(devs) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		rep.KafkaDrained = time.Since(endAt)
	}
	if nw != nil {
		want := nw.expected(all)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if got, _, _ := nw.counts(); got >= want {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		rep.NotifyDrained = time.Since(endAt)
	}
	if ws != nil {
		for time.Now().Before(deadline) && ctx.Err() == nil && ws.minSeen() < int64(expected) {
			time.Sleep(10 * time.Millisecond)
		}
		rep.WS.drained = time.Since(endAt)
		rep.WS.dropped = ws.dropped() // before close ends the others
		rep.WS.missing = ws.missing(expected)
		ws.close()
		ws.mu.Lock()
		rep.WS.on, rep.WS.sockets, rep.WS.mqttLat, rep.WS.kafkaLat = true, cfg.KafkaWS, ws.mqttLat, ws.kafkaLat
		rep.WS.frames, rep.WS.gaps, rep.WS.dups, rep.WS.err = ws.frames, ws.gaps, ws.dups, ws.readErr
		ws.mu.Unlock()
	}
	stopFollow()
	wgPoll.Wait()
	// The backlogs' return to 0 (history's is counted against DATA's last
	// sequence, which /healthz refreshes every second).
	for lagEnd := time.Now().Add(5 * time.Second); time.Now().Before(lagEnd) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		lw.mu.Lock()
		zero := lw.zeroSince >= 0
		lw.mu.Unlock()
		if zero {
			break
		}
	}
	stopLag()
	wgLag.Wait()
	lw.mu.Lock()
	rep.LagMaxKafka, rep.LagMaxHistory, rep.LagPolls, rep.LagErr = lw.maxKafka, lw.maxHistory, lw.polls, lw.err
	rep.LagMaxFlows, rep.LagMaxNotify, rep.LagFlowsOn = lw.maxFlows, lw.maxNotify, lw.flows != nil
	rep.LagEnd = lw.last
	rep.LagAtWindowEnd = lw.atWindowEnd
	if lw.zeroSince >= 0 {
		rep.LagZeroAfter = max(lw.zeroSince-end, 0) // 0: it never rose by the end
	} else {
		rep.LagZeroAfter = -1
	}
	lw.mu.Unlock()
	for _, p := range pollers {
		rep.HistoryLat.add(p.lat...)
		rep.HistoryPolls += p.errs
		if p.err != nil && rep.HistoryNote == "" && p.errs > 0 {
			progress(logw, "history poll of %s failed %d times, first: %v", p.d.id, p.errs, p.err)
		}
	}
	if kw != nil {
		kw.mu.Lock()
		rep.KafkaLat.add(kw.lat...)
		rep.KafkaDelivered, rep.KafkaDups = kw.delivered, kw.dups
		kw.mu.Unlock()
		rep.KafkaMissing = kw.missing(devs)
		if err := kw.failure(); err != nil {
			rep.KafkaNote = err.Error()
		}
	}
	if nw != nil {
		want := nw.expected(all)
		nw.mu.Lock()
		rep.NotifyLat.add(nw.lat...)
		rep.NotifyOn, rep.NotifyDelivered, rep.NotifyDups, rep.NotifyBad, rep.NotifyErr = true, nw.delivered, nw.dups, nw.bad, nw.err
		nw.mu.Unlock()
		rep.NotifyExpected, rep.NotifyMissing = want, max(want-rep.NotifyDelivered, 0)
	}
	rep.Flows, rep.FlowsEvery = cfg.Flows, cfg.FlowsEvery
	if len(pollers) > 0 {
		checked := all
		if cfg.HistoryCheck == "sample" {
			checked = nil
			for _, p := range pollers {
				checked = append(checked, p.d)
			}
			checked = append(checked, kdevs[:min(len(kdevs), len(pollers))]...)
		}
		progress(logw, "checking the history of %d devices", len(checked))
		late := waitHistory(ctx, a, checked, deadline)
		rep.HistoryDrained = time.Since(endAt)
		rep.History = checkHistory(ctx, logw, a, checked)
		rep.History.late = len(late)
	}

	var errs []error
	if rep.History.err != nil {
		errs = append(errs, fmt.Errorf("history check: %w", rep.History.err))
	}
	if cfg.Baseline {
		progress(logw, "baseline: nats bench js pub async against the same server")
		rep.Baseline = runBaseline(ctx, cfg, srv.NATS, rep.ReadingBytes)
		if addr, pid, stop, err := startMochi(ctx); err != nil {
			rep.MQTTBases = append(rep.MQTTBases, mqttBase{name: "bare mochi-mqtt", note: err.Error()})
		} else {
			progress(logw, "baseline: the generator against a bare mochi-mqtt (pid %d) for %v", pid, cfg.BaselineFor)
			rep.MQTTBases = append(rep.MQTTBases, runMQTTBase(ctx, logw, cfg, "bare mochi-mqtt (no store)", addr, pid, cfg.BaselineFor))
			stop()
		}
		if cfg.Mosquitto != "off" {
			progress(logw, "baseline: the generator against Mosquitto %s for %v", cfg.Mosquitto, cfg.BaselineFor)
			rep.MQTTBases = append(rep.MQTTBases, runMQTTBase(ctx, logw, cfg, "Mosquitto (QoS 1, no subscriber)", cfg.Mosquitto, mosquittoPid(), cfg.BaselineFor))
		}
		if cfg.Kafka && srv.Kafka != "" {
			r := cfg.KafkaRate
			if r <= 0 {
				r = 1000
			}
			progress(logw, "baseline: raw kafka-go produce -> consume at %.0f/s for %v", r, cfg.BaselineFor)
			rep.KafkaBase = runKafkaBase(ctx, srv.Kafka, r, cfg.BaselineFor)
			rep.KafkaBaseRate = r
		}
	}
	return rep, errors.Join(append(errs, ctx.Err())...)
}

// procCPUIf is procCPU, or 0 without a pid.
func procCPUIf(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	return procCPU(pid)
}

// report10s prints the acknowledged readings every 10 s until done.
func report10s(done chan struct{}, logw io.Writer, devs []*device, base time.Time, start time.Duration) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	prev, prevAt := 0, start
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		acked := 0
		for _, d := range devs {
			n, _ := d.acks()
			acked += n
		}
		now := time.Since(base)
		progress(logw, "%v: %d acked, %.0f msg/s over the last %v; load average %s", (now - start).Round(time.Second),
			acked, float64(acked-prev)/(now-prevAt).Seconds(), (now - prevAt).Round(time.Second), loadavg())
		prev, prevAt = acked, now
	}
}

// cpuProfile saves the server's CPU profile over the next d to file.
func cpuProfile(ctx context.Context, addr string, d time.Duration, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1))
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
