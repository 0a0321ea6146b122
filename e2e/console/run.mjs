// Runs one browser scenario of the web console in Debian's headless
// chromium, driven by playwright-core (RECIPES.md: its own browser download
// cannot reach the network here). e2e/console_test.go starts the platform
// and calls `node run.mjs scenarios/<name>.mjs` with:
//   DOJOT_URL        the console's address (may carry a proxy's path prefix)
//   DOJOT_USER, DOJOT_PASS   an admin login
//   DOJOT_MQTT       host:port of the platform's MQTT (insecure mode:
//                    username <tenant>:<deviceid>)
//   DOJOT_SHOTS      where screenshots go
// A scenario module's default export is async (t) => void; it throws to
// fail. Lines "SHOT <file>" and "METRIC <name> <value> <unit>" on stdout are
// read by the Go test.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = name => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const scenarioPath = resolve(process.argv[2]);
const scenario = basename(scenarioPath, '.mjs');
const base = env('DOJOT_URL').replace(/\/?$/, '/');
const shots = env('DOJOT_SHOTS');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  // playwright gives the browser a fresh, temporary profile of its own.
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
const page = await context.newPage();
const consoleErrors = [];
page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', e => consoleErrors.push(String(e)));

const children = new Set();

// t is what a scenario gets.
const t = {
  page, context, browser, base,
  user: env('DOJOT_USER'), pass: env('DOJOT_PASS'), mqtt: process.env.DOJOT_MQTT || '',
  // login opens the console and logs in through its form.
  async login() {
    await page.goto(base);
    await page.getByLabel('Username').fill(t.user);
    await page.getByLabel('Password').fill(t.pass);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('body[data-page="/devices"]').waitFor();
  },
  // shot saves a screenshot of the page as <scenario>-<name>.png.
  async shot(name) {
    const file = join(shots, `${scenario}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`SHOT ${file}`);
  },
  metric(name, value, unit) { console.log(`METRIC ${name} ${value} ${unit}`); },
  // api calls the platform's REST API with the console's own token.
  async api(method, path, body) {
    return page.evaluate(async ([method, path, body, base]) => {
      const token = sessionStorage.getItem('dojot.jwt');
      const res = await fetch(new URL(path.replace(/^\//, ''), base), {
        method, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    }, [method, path, body, base]);
  },
  // mqtt publishes lines (JSON readings) as device id of the tenant, with
  // mosquitto_pub reading stdin: answers {send(line), close()}.
  publisher(tenant, id) {
    const [host, port] = t.mqtt.split(':');
    const p = spawn('mosquitto_pub', ['-h', host, '-p', port, '-u', `${tenant}:${id}`, '-i', `pub-${id}`, '-q', '1', '-t', `${tenant}:${id}/attrs`, '-l'], { stdio: ['pipe', 'inherit', 'inherit'] });
    children.add(p);
    return {
      send(line) { p.stdin.write(line.replace(/\n/g, ' ') + '\n'); },
      close() { return new Promise(res => { p.on('exit', res); p.stdin.end(); }); },
    };
  },
  // subscribeOnce answers a promise of the first message on topic.
  subscribeOnce(tenant, id, topic, timeoutMs = 15000) {
    const [host, port] = t.mqtt.split(':');
    const p = spawn('mosquitto_sub', ['-h', host, '-p', port, '-u', `${tenant}:${id}`, '-i', `sub-${id}`, '-q', '1', '-t', topic, '-C', '1', '-W', String(Math.ceil(timeoutMs / 1000))], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(p);
    let out = '';
    p.stdout.on('data', d => { out += d; });
    const ready = new Promise(r => setTimeout(r, 500)); // mosquitto_sub has no "subscribed" signal
    const message = new Promise((res, rej) => p.on('exit', code => code === 0 ? res(out.trim()) : rej(new Error(`mosquitto_sub on ${topic}: exit ${code}, nothing received`))));
    return { ready, message };
  },
  // expectNoErrors fails on what the page logged as an error (a failed
  // request the test provoked is named in allowed).
  expectNoErrors(...allowed) {
    const bad = consoleErrors.filter(e => !allowed.some(a => e.includes(a)));
    if (bad.length) throw new Error(`the page logged errors: ${bad.join(' | ')}`);
  },
};

let failed = false;
try {
  const mod = await import(pathToFileURL(scenarioPath).href);
  await mod.default(t);
} catch (e) {
  failed = true;
  console.error(`scenario ${scenario} failed: ${e.stack || e}`);
  try { await t.shot('failure'); } catch { /* the browser may be gone */ }
} finally {
  for (const c of children) c.kill();
  await browser.close();
}
process.exit(failed ? 1 : 0);
