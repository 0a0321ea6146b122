// Templates: the form refuses what the API refuses, with the message next
// to the field (the template's label, an attribute's label and value
// type); a template with attributes and metadata is created and edited;
// the list finds it; deleting it is refused while a device uses it.
import { fieldError, rows } from '../forms.mjs';

export default async function (t) {
  const { page } = t;
  const s = Date.now().toString(36);
  const label = `tpl-${s}`;
  page.on('dialog', d => d.accept());
  await t.login();

  await page.getByRole('link', { name: 'Templates', exact: true }).click();
  await page.locator('body[data-page="/templates"]').waitFor();
  await page.getByRole('link', { name: 'New template' }).click();
  await page.locator('body[data-page="/templates/new"]').waitFor();

  // Nothing filled in: the API wants a label.
  await page.getByRole('button', { name: 'Add attribute' }).click();
  await page.getByRole('button', { name: 'Create template' }).click();
  await fieldError(page, 'label', 'Missing data for required field.');
  // A label, but an attribute with a space in its label and no value type.
  await page.getByLabel('Label', { exact: true }).fill(label);
  await page.getByLabel('Attribute 1 label').fill('room temp');
  await page.getByRole('button', { name: 'Create template' }).click();
  await fieldError(page, 'attrs.0.label', 'Labels must contain letters, numbers or dashes(-_)');
  await fieldError(page, 'attrs.0.value_type', 'Missing data for required field.');
  if (await page.getByLabel('Attribute 1 label').getAttribute('aria-invalid') !== 'true') throw new Error('the attribute label is not marked invalid');
  await t.shot('errors');

  // Fixed, with a static attribute and a metadata (whose own error, a
  // missing value type, shows next to it first).
  await page.getByLabel('Attribute 1 label').fill('temperature');
  await page.getByLabel('Attribute 1 value type').selectOption('float');
  await page.getByRole('button', { name: 'Add metadata to attribute 1' }).click();
  await page.getByLabel('Attribute 1 metadata 1 label').fill('unit');
  await page.getByLabel('Attribute 1 metadata 1 static value').fill('C');
  await page.getByRole('button', { name: 'Add attribute' }).click();
  await page.getByLabel('Attribute 2 label').fill('serial');
  await page.getByLabel('Attribute 2 type').selectOption('static');
  await page.getByLabel('Attribute 2 value type').selectOption('string');
  await page.getByLabel('Attribute 2 static value').fill('S-0');
  await page.getByRole('button', { name: 'Create template' }).click();
  await fieldError(page, 'attrs.0.metadata.0.value_type', 'Missing data for required field.');
  await page.getByLabel('Attribute 1 metadata 1 value type').selectOption('string');
  await page.getByRole('button', { name: 'Create template' }).click();
  await page.getByRole('heading', { name: `Template ${label}` }).waitFor();
  const id = page.url().match(/#\/templates\/(\d+)$/)?.[1];
  if (!id) throw new Error(`after creation the page is ${page.url()}`);
  let tpl = await t.api('GET', `template/${id}`);
  const temp = tpl.attrs.find(a => a.label === 'temperature');
  const serial = tpl.attrs.find(a => a.label === 'serial');
  if (temp?.value_type !== 'float' || temp.metadata?.[0]?.static_value !== 'C' || serial?.type !== 'static' || serial.static_value !== 'S-0') {
    throw new Error(`template stored as ${JSON.stringify(tpl)}`);
  }
  await t.shot('created');
  // The same on a phone: the table scrolls sideways, the form is one column.
  await page.setViewportSize({ width: 390, height: 800 });
  await t.shot('phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // Edit: an actuator added, the static value changed, the metadata removed.
  await page.getByRole('button', { name: 'Add attribute' }).click();
  await page.getByLabel('Attribute 3 label').fill('led');
  await page.getByLabel('Attribute 3 type').selectOption('actuator');
  // The API does not say which attribute failed: the form finds it (the
  // third, the one without a value type).
  await page.getByRole('button', { name: 'Save' }).click();
  await fieldError(page, 'attrs.2.value_type', 'Missing data for required field.');
  await page.getByLabel('Attribute 3 value type').selectOption('bool');
  await page.getByLabel('Attribute 2 static value').fill('S-1');
  await page.getByRole('button', { name: 'Remove metadata 1 of attribute 1' }).click();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('Template saved.').waitFor();
  tpl = await t.api('GET', `template/${id}`);
  const labels = tpl.attrs.map(a => `${a.label}:${a.type}:${a.static_value ?? ''}:${(a.metadata || []).length}`).sort().join(' ');
  if (labels !== 'led:actuator::0 serial:static:S-1:0 temperature:dynamic::0') throw new Error(`after the edit: ${labels}`);
  await t.shot('edited');

  // The list: searched by label, sorted by label.
  await page.getByRole('link', { name: 'Templates', exact: true }).click();
  await page.locator('body[data-page="/templates"]').waitFor();
  await page.getByRole('searchbox', { name: 'Search by label' }).fill(label);
  await page.getByRole('searchbox', { name: 'Search by label' }).press('Enter');
  await page.waitForURL(u => u.hash === `#/templates?q=${label}`);
  await rows(page, 1);
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: label, exact: true }) });
  await row.getByText('led · actuator').waitFor();
  await t.shot('search');
  await page.getByRole('searchbox', { name: 'Search by label' }).fill('');
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByRole('button', { name: 'Label', exact: true }).click();
  await page.waitForURL(u => u.hash === '#/templates?sort=label');
  await page.locator('th[aria-sort="ascending"]', { hasText: 'Label' }).waitFor();
  const shown = await page.locator('tbody tr td:first-child').allTextContents();
  const sorted = [...shown].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  if (shown.join('|') !== sorted.join('|')) throw new Error(`not in label order: ${shown}`);
  await t.shot('sorted');

  // A template in use cannot go: the API's refusal is shown.
  const dev = (await t.api('POST', 'device', { label: `tpl-user-${s}`, templates: [Number(id)] })).devices[0];
  await page.goto(`${t.base}#/templates/${id}`);
  await page.getByRole('link', { name: `tpl-user-${s}` }).waitFor();
  // Its change log: the edit above, newest first, then the creation.
  const log = page.getByRole('region', { name: 'Change log' });
  await log.getByText('template.updated').first().waitFor();
  const kinds = await log.locator('tbody .tag').allTextContents();
  if (kinds[0] !== 'template.updated' || kinds.at(-1) !== 'template.created') throw new Error(`change log: ${kinds}`);
  // Item by item: the attribute added, the static value changed, the
  // metadata removed.
  for (const line of ['added led (actuator, bool)', 'serial: static_value "S-0" → "S-1"', 'metadata: removed unit']) {
    await log.getByText(line).first().waitFor({ timeout: 5000 }).catch(() => { throw new Error(`change log: no "${line}"`); });
  }
  await t.shot('change-log');
  await page.getByRole('button', { name: 'Delete template' }).click();
  await page.getByRole('alert').getByText('Templates cannot be removed as they are being used by devices').waitFor();
  await t.shot('delete-refused');
  await t.api('DELETE', `device/${dev.id}`);
  await page.goto(`${t.base}#/templates?q=${label}`);
  await page.getByRole('button', { name: `Delete template ${label}` }).click();
  await page.getByText('No template matches.').waitFor();
  await page.getByRole('status').getByText(`Template ${label} deleted.`).waitFor();
  await t.shot('deleted');
  t.expectNoErrors('400');
}
