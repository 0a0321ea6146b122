// Devices: the form shows the API's refusals next to the field (no label,
// a bad id), creates a device from a template with its own static value;
// the list searches (by label and by id), sorts, pages (the state in the
// hash, kept by a reload and by back), edits and deletes.
import { fieldError, rows } from '../forms.mjs';

export default async function (t) {
  const { page } = t;
  const s = Date.now().toString(36);
  page.on('dialog', d => d.accept());
  await t.login();
  await t.shot('first');

  const tpl = (await t.api('POST', 'template', {
    label: `dev-tpl-${s}`,
    attrs: [
      { label: 'temperature', type: 'dynamic', value_type: 'float' },
      { label: 'serial', type: 'static', value_type: 'string', static_value: 'S-0' },
    ],
  })).template;

  // A template that someone else deletes while the form is open.
  const gone = (await t.api('POST', 'template', { label: `dev-gone-${s}`, attrs: [] })).template;

  // The form: no label, then an id that is not hexadecimal, then a
  // template that is no more.
  await page.getByRole('link', { name: 'New device' }).click();
  await page.locator('body[data-page="/devices/new"]').waitFor();
  await page.getByRole('checkbox', { name: `dev-tpl-${s}` }).check();
  await page.getByRole('checkbox', { name: `dev-gone-${s}` }).check();
  await page.getByRole('button', { name: 'Create device' }).click();
  await fieldError(page, 'label', 'Missing data for required field.');
  const label = `dev-${s}`;
  await page.getByLabel('Label', { exact: true }).fill(label);
  await page.getByLabel('Id', { exact: true }).fill('xyz');
  await page.getByRole('button', { name: 'Create device' }).click();
  await fieldError(page, 'id', 'Device ID must be 2-6 characters and must be hexadecimal');
  await t.shot('errors');

  const id = Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0');
  await page.getByLabel('Id', { exact: true }).fill(id);
  await t.api('DELETE', `template/${gone.id}`);
  await page.getByRole('button', { name: 'Create device' }).click();
  await fieldError(page, 'templates', `No such template: ${gone.id}`);
  await page.getByRole('checkbox', { name: `dev-gone-${s}` }).uncheck();
  await page.getByLabel(`serial (dev-tpl-${s})`).fill('S-42');
  await t.shot('new');
  await page.getByRole('button', { name: 'Create device' }).click();
  await page.waitForURL(u => u.hash === `#/devices/${id}`);
  await page.locator(`body[data-page="/devices/${id}"]`).waitFor();
  let dev = await t.api('GET', `device/${id}`);
  const serial = dev.attrs[String(tpl.id)]?.find(a => a.label === 'serial');
  if (dev.label !== label || dev.templates.join() !== String(tpl.id) || serial?.static_value !== 'S-42' || !serial.is_static_overridden) {
    throw new Error(`device stored as ${JSON.stringify(dev)}`);
  }

  // 25 more: two pages of 20 when searched by their label.
  const many = `devp-${s}`;
  const made = (await t.api('POST', 'device?count=25', { label: many, templates: [tpl.id] })).devices;
  // The first page after login, loaded afresh: how soon its list is shown
  // (the page is marked rendered once the list and its template labels are).
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await page.locator('body[data-page="/devices"]').waitFor();
  await page.reload();
  await page.locator('body[data-page="/devices"]').waitFor();
  const shown = await page.evaluate(() => Math.round(performance.now()));
  if (await page.locator('main tbody tr').count() < 20) throw new Error('the devices page shows fewer than 20 devices');
  t.metric('devices_page_shown', shown, 'ms');
  if (shown > 5000) throw new Error(`the devices page took ${shown} ms`);
  const search = page.getByRole('searchbox', { name: 'Search by label or id' });
  await search.fill(many);
  await search.press('Enter');
  await page.waitForURL(u => u.hash === `#/devices?q=${many}`);
  await page.getByText('Page 1 of 2').waitFor();
  await rows(page, 20);
  // Template labels are filled in after the list.
  await page.getByRole('row').nth(1).getByRole('link', { name: `dev-tpl-${s}`, exact: true }).waitFor();
  await t.shot('search');
  // The same on a phone: the table scrolls sideways, the form is one column.
  await page.setViewportSize({ width: 390, height: 800 });
  await t.shot('phone');
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.getByRole('button', { name: 'Next ›' }).click();
  await page.waitForURL(u => u.hash === `#/devices?q=${many}&page=2`);
  await page.getByText('Page 2 of 2').waitFor();
  await rows(page, 5);
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  if (!focused?.includes('Previous')) throw new Error(`after Next the focus is on "${focused}", not on the pager`);
  await page.reload();
  await page.getByText('Page 2 of 2').waitFor();
  await rows(page, 5);
  await t.shot('page-2');
  await page.goBack();
  await page.getByText('Page 1 of 2').waitFor();

  // Sorted by label: _00 first; by id (dojot's default order): the
  // smallest id first.
  await page.getByRole('button', { name: 'Label', exact: true }).click();
  await page.waitForURL(u => u.hash === `#/devices?q=${many}&sort=label`);
  await page.locator('th[aria-sort="ascending"]', { hasText: 'Label' }).waitFor();
  await page.locator('tbody tr').first().getByRole('link', { name: `${many}_00`, exact: true }).waitFor();
  await t.shot('sorted');
  await page.getByRole('button', { name: 'Id', exact: true }).click();
  await page.waitForURL(u => u.hash === `#/devices?q=${many}`);
  await page.locator('th[aria-sort="ascending"]', { hasText: 'Id' }).waitFor();
  const smallest = made.map(d => d.id).sort()[0];
  await page.locator('tbody tr').first().getByText(smallest, { exact: true }).waitFor();

  // The template's devices (the templates list links here): the filter
  // names the template.
  await page.goto(`${t.base}#/devices?template=${tpl.id}`);
  await page.locator('#tpl-filter', { hasText: `dev-tpl-${s}` }).waitFor();
  await page.getByText('Page 1 of 2').waitFor();
  await page.getByRole('button', { name: 'Show devices of every template' }).click();
  await page.waitForURL(u => u.hash === '#/devices');

  // Found by id.
  await search.fill(id);
  await search.press('Enter');
  await page.getByRole('link', { name: label, exact: true }).waitFor();

  // Edit: a new label, the device's own static value dropped.
  await page.getByRole('link', { name: `Edit device ${label}` }).click();
  await page.locator(`body[data-page="/devices/${id}/edit"]`).waitFor();
  const input = page.getByLabel(`serial (dev-tpl-${s})`);
  if (await input.inputValue() !== 'S-42') throw new Error('the form does not show the device\'s static value');
  await t.shot('edit');
  await page.getByLabel('Label', { exact: true }).fill(`${label}-b`);
  await input.fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(u => u.hash === `#/devices/${id}`);
  dev = await t.api('GET', `device/${id}`);
  const after = dev.attrs[String(tpl.id)]?.find(a => a.label === 'serial');
  if (dev.label !== `${label}-b` || after?.static_value !== 'S-0' || after.is_static_overridden) throw new Error(`after the edit: ${JSON.stringify(dev)}`);

  // Delete from the list.
  await page.goto(`${t.base}#/devices?q=${label}-b`);
  await page.getByRole('button', { name: `Delete device ${label}-b` }).click();
  await page.getByText('No device matches.').waitFor();
  await t.shot('deleted');

  for (const d of made) await t.api('DELETE', `device/${d.id}`);
  await t.api('DELETE', `template/${tpl.id}`);
  // The refusals provoked above (400, and 404 for the deleted template).
  t.expectNoErrors('400', '404');
}
