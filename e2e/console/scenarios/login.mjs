// The first load: how much travels and how soon the page can be used; then
// the login, a wrong password's error, the header's tenant, and logout.
export default async function (t) {
  const { page } = t;
  // The baseline, in the same browser and run: a navigation to the
  // platform's smallest answer (GET /healthz, a few hundred bytes of JSON).
  const probe = await t.context.newPage();
  await probe.goto(t.base + 'healthz');
  const baseline = await probe.evaluate(() => performance.getEntriesByType('navigation')[0].duration);
  await probe.close();
  t.metric('baseline_healthz_navigation', Math.round(baseline), 'ms');
  let bytes = 0;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.loadingFinished', e => { bytes += e.encodedDataLength; });
  await page.goto(t.base);
  await page.locator('body[data-ready="1"]').waitFor();
  const ready = await page.evaluate(() => performance.getEntriesByName('dojot-interactive')[0]?.startTime ?? -1);
  t.metric('first_load_transferred', bytes, 'bytes');
  t.metric('first_load_interactive', Math.round(ready), 'ms');
  if (bytes > 150_000) throw new Error(`first load transferred ${bytes} bytes, over 150 KB`);
  // The goal is 1 s (BENCHMARKS.md has the figures); the test fails only at
  // 5 s, since a shared CI machine's load moves times, not bytes.
  if (ready < 0 || ready > 5000) throw new Error(`interactive after ${ready} ms`);
  await t.shot('page');

  await page.getByLabel('Username').fill(t.user);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').getByText('AuthorizationError').waitFor();
  await t.shot('wrong-password');

  await page.getByLabel('Password').fill(t.pass);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('body[data-page="/devices"]').waitFor();
  const tenant = await page.locator('#who-tenant').textContent();
  if (tenant !== 'admin') throw new Error(`tenant shown: ${tenant}`);

  // A reload keeps the session (the token is in this tab's storage).
  await page.reload();
  await page.locator('body[data-page="/devices"]').waitFor();

  // The heaviest page, cold: a device's page (charts: uPlot) opened with an
  // empty cache, its API answers and websocket included.
  const label = `load-${Date.now().toString(36)}`;
  const tpl = await t.api('POST', 'template', { label, attrs: [{ label: 'temperature', type: 'dynamic', value_type: 'float' }] });
  const id = (await t.api('POST', 'device', { label, templates: [tpl.template.id] })).devices[0].id;
  await cdp.send('Network.clearBrowserCache');
  await page.goto('about:blank');
  bytes = 0;
  await page.goto(`${t.base}#/devices/${id}`);
  await page.locator(`body[data-ready="1"][data-page="/devices/${id}"]`).waitFor();
  await page.locator('.uplot').first().waitFor();
  await page.waitForLoadState('networkidle');
  const deviceReady = await page.evaluate(() => performance.getEntriesByName('dojot-interactive')[0]?.startTime ?? -1);
  t.metric('device_page_cold_transferred', bytes, 'bytes');
  t.metric('device_page_cold_interactive', Math.round(deviceReady), 'ms');
  if (bytes > 150_000) throw new Error(`the device page's cold load transferred ${bytes} bytes, over 150 KB`);
  if (deviceReady < 0 || deviceReady > 5000) throw new Error(`the device page was interactive after ${deviceReady} ms`);

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('body[data-page="/login"]').waitFor();
  const token = await page.evaluate(() => sessionStorage.getItem('dojot.jwt'));
  if (token) throw new Error('the token outlived the logout');
  t.expectNoErrors('403');
}
