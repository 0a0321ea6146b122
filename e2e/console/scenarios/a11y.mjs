// Every page, as a keyboard and screen-reader user and on a phone meets it:
// each control has an accessible name (Chrome's own accessibility tree, not
// a guess from the markup), the login works from the keyboard alone, and no
// page is wider than a phone's screen.
const pages = ['/devices', '/devices/new', '/templates', '/templates/new', '/flows', '/flows/new',
  '/notifications', '/users', '/groups', '/tenants'];

// Roles a user operates, which must have a name.
const controls = new Set(['button', 'link', 'textbox', 'searchbox', 'combobox', 'listbox', 'checkbox',
  'radio', 'spinbutton', 'slider', 'switch', 'menuitem', 'tab']);

export default async function (t) {
  const { page } = t;

  // The keyboard alone: the login page starts in its first field, Tab goes
  // to the next, Enter submits.
  await page.goto(t.base);
  await page.locator('body[data-page="/login"]').waitFor();
  const at = await page.evaluate(() => document.activeElement?.getAttribute('autocomplete'));
  if (at !== 'username') throw new Error(`the login page starts in "${at}", not the username`);
  await page.keyboard.type(t.user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(t.pass);
  await page.keyboard.press('Enter');
  await page.locator('body[data-page="/devices"]').waitFor();
  // The skip link is the first Tab stop of the document, and it leads to
  // the content.
  const first = await page.evaluate(() => document.querySelector('a[href], button, input, select, textarea')?.textContent);
  if (first !== 'Skip to content') throw new Error(`the first Tab stop is "${first}", not the skip link`);
  await page.getByRole('link', { name: 'Skip to content' }).focus();
  await page.keyboard.press('Enter');
  const landed = await page.evaluate(() => document.activeElement?.id);
  if (landed !== 'main') throw new Error(`the skip link leads to "${landed}", not main`);

  // A template and a device, so the device and template pages have content.
  const label = `a11y-${Date.now().toString(36)}`;
  const tpl = await t.api('POST', 'template', { label, attrs: [
    { label: 'temperature', type: 'dynamic', value_type: 'float' },
    { label: 'led', type: 'actuator', value_type: 'bool' }] });
  const dev = await t.api('POST', 'device', { label, templates: [tpl.template.id] });
  const more = [`/devices/${dev.devices[0].id}`, `/templates/${tpl.template.id}`];

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Accessibility.enable');
  const problems = [];
  for (const [width, height] of [[1280, 860], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const p of [...pages, ...more]) {
      await page.goto(`${t.base}#${p}`);
      await page.locator(`body[data-page="${p}"]`).waitFor();
      await page.waitForLoadState('networkidle');
      const { nodes } = await cdp.send('Accessibility.getFullAXTree');
      for (const n of nodes) {
        if (n.ignored || !controls.has(n.role?.value)) continue;
        if (!(n.name?.value || '').trim()) {
          const { node } = n.backendDOMNodeId ? await cdp.send('DOM.describeNode', { backendNodeId: n.backendDOMNodeId }) : { node: {} };
          problems.push(`${p}: a ${n.role.value} with no name (<${(node.localName || '?')} ${(node.attributes || []).join(' ')}>)`);
        }
      }
      const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
      if (scroll > inner + 1) problems.push(`${p} at ${width}px: the page is ${scroll}px wide`);
      if (width < 500) await t.shot(`phone${p.replace(/\//g, '-')}`);
    }
  }
  if (problems.length) throw new Error(`${problems.length} problems:\n${[...new Set(problems)].join('\n')}`);
}
