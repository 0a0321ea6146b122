// The live chart under a fast device: 50 readings/s for 10 s over MQTT
// while the device page is open, on top of a window already holding 12,000
// readings (4 minutes of such a device, brought by since= on open). The
// page's animation frames are counted (a requestAnimationFrame loop), first
// on the idle page (the baseline, same browser, same run), then while the
// readings arrive; every reading must reach the chart, and the frame rate
// must hold.
const rate = 50; // readings per second
const seconds = 10;
const earlier = 12000;

// frames counts animation frames until stop() (page side): how many, and
// how many took longer than 50 ms (a visible stutter).
// Long tasks (main-thread work over 50 ms, the page's own cost) are
// counted beside: a long frame without one is the machine's doing (other
// processes on its cores), not the page's.
function startFrames() {
  const s = { frames: 0, long: 0, max: 0, start: performance.now(), end: 0, run: true, tasks: 0, taskMs: 0 };
  s.observer = new PerformanceObserver(list => {
    for (const e of list.getEntries()) { s.tasks++; s.taskMs = Math.max(s.taskMs, e.duration); }
  });
  s.observer.observe({ type: 'longtask' });
  let prev = s.start;
  const tick = now => {
    const d = now - prev;
    prev = now;
    s.frames++;
    if (d > 50) s.long++;
    if (d > s.max) s.max = d;
    if (s.run) requestAnimationFrame(tick); else s.end = now;
  };
  requestAnimationFrame(tick);
  window.__frames = s;
}

function stopFrames() {
  const s = window.__frames;
  s.run = false;
  s.observer.disconnect();
  const ms = performance.now() - s.start;
  return { frames: s.frames, long: s.long, max: Math.round(s.max), ms, fps: s.frames * 1000 / ms, tasks: s.tasks, taskMs: Math.round(s.taskMs) };
}

export default async function (t) {
  const { page } = t;
  await t.login();
  const tenant = await page.locator('#who-tenant').textContent();
  const tag = Date.now().toString(36);
  const tpl = (await t.api('POST', 'template', { label: `speed-${tag}`, attrs: [{ label: 'n', type: 'dynamic', value_type: 'float' }] })).template;
  const id = (await t.api('POST', 'device', { label: `speed-${tag}`, templates: [tpl.id] })).devices[0].id;
  const pub = t.publisher(tenant, id);
  for (let i = 0; i < earlier; i++) pub.send(JSON.stringify({ n: Math.cos(i / 200) * 10 }));
  await page.goto(`${t.base}#/devices/${id}`);
  await page.locator('[data-state="live"]').waitFor();
  const chart = page.getByRole('img', { name: 'Live chart of n' });
  await page.locator(`.chart[data-received="${earlier}"]`).waitFor({ timeout: 60000 });

  // The main thread's busy time (Chrome's own counters, in seconds):
  // what the page costs per second, script and layout apart.
  const cdp = await t.context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const busy = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
    .filter(m => ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration'].includes(m.name)).map(m => [m.name, m.value]));
  const perSecond = (a, b, ms) => Object.fromEntries(Object.keys(a).map(k => [k, Math.round((b[k] - a[k]) * 1e6 / ms)]));

  // Baseline: the same page, idle, for 3 s.
  let before = await busy();
  await page.evaluate(startFrames);
  await page.waitForTimeout(3000); // a measuring period, not a wait for state
  const idle = await page.evaluate(stopFrames);
  const idleBusy = perSecond(before, await busy(), idle.ms);

  // Load: 50 readings/s for 10 s, paced on the clock (no drift).
  before = await busy();
  await page.evaluate(startFrames);
  const sent = rate * seconds;
  const t0 = Date.now();
  for (let i = 0; i < sent; i++) {
    const due = t0 + (i * 1000) / rate;
    if (due > Date.now()) await new Promise(r => setTimeout(r, due - Date.now()));
    pub.send(JSON.stringify({ n: Math.sin(i / 20) * 10 + i / 50 }));
  }
  const sendMs = Date.now() - t0;
  await page.locator(`.chart[data-received="${earlier + sent}"]`).waitFor({ timeout: 20000 }).catch(() => {});
  const lagMs = Date.now() - t0 - sendMs;
  const live = await page.evaluate(stopFrames);
  const liveBusy = perSecond(before, await busy(), live.ms);
  await pub.close();
  const received = Number(await chart.getAttribute('data-received')) - earlier;
  const points = Number(await chart.getAttribute('data-points')) - earlier;
  await t.shot('after');

  t.metric('live_chart_idle_fps', idle.fps.toFixed(1), 'frames/s');
  t.metric('live_chart_fps', live.fps.toFixed(1), 'frames/s');
  t.metric('live_chart_fps_ratio', (live.fps / idle.fps).toFixed(2), 'x idle');
  t.metric('live_chart_long_frames', live.long, `of ${live.frames} frames >50ms (idle: ${idle.long} of ${idle.frames})`);
  t.metric('live_chart_max_frame', live.max, `ms (idle: ${idle.max} ms)`);
  t.metric('live_chart_long_tasks', live.tasks, `main-thread tasks >50ms, longest ${live.taskMs} ms (idle: ${idle.tasks})`);
  t.metric('live_chart_main_thread', liveBusy.TaskDuration, `ms/s busy: script ${liveBusy.ScriptDuration}, layout ${liveBusy.LayoutDuration}, style ${liveBusy.RecalcStyleDuration} (idle: ${idleBusy.TaskDuration} ms/s)`);
  t.metric('live_chart_readings', `${received}/${sent}`, `received/sent at ${rate}/s in ${sendMs} ms`);
  t.metric('live_chart_points', points + earlier, `points drawn (${earlier} before)`);
  t.metric('live_chart_drain', lagMs, 'ms from the last send to the last reading shown');

  if (received !== sent || points !== sent) throw new Error(`the chart got ${received} readings and drew ${points} points of ${sent} sent`);
  // Stalls: the loaded page must keep most of the idle frame rate, and no
  // frame may freeze it for half a second (or twice the idle page's worst,
  // on a machine so loaded that the idle page itself froze that long).
  if (live.fps < 0.5 * idle.fps) throw new Error(`frame rate ${live.fps.toFixed(1)}/s under load, idle ${idle.fps.toFixed(1)}/s`);
  if (live.max > Math.max(500, 2 * idle.max)) throw new Error(`a frame took ${live.max} ms (idle: ${idle.max} ms): the page stalled`);
  // 404: the last values of a device with no history yet (History's answer).
  t.expectNoErrors('404');
}
