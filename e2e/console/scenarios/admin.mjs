// The administration pages, as an admin uses them: a user of a new tenant
// (an API error shown next to its field first), the tenant in the tenants
// page, a group and a permission related to each other and to the user;
// then that user logs in in a browser of its own and finds no admin pages
// (hidden in the nav, the API's 403 shown when opened); the admin deletes
// the user, the group and the permission, and the tenant goes with its
// last user.
import { join } from 'node:path';

export default async function (t) {
  const { page } = t;
  const id = Date.now().toString(36).slice(-6);
  const username = `adm_${id}`, tenant = `ten${id}`, group = `grp${id}`, perm = `perm_${id}`;
  const password = 'Qx7!Lm4#Wv9@Rt2';
  page.on('dialog', d => d.accept()); // the confirmations of deletes
  const go = hash => page.evaluate(h => { location.hash = h; }, hash);
  const status = text => page.getByRole('status').getByText(text).first().waitFor();

  await t.login();
  for (const name of ['Users', 'Groups', 'Tenants']) {
    if (!await page.getByRole('link', { name, exact: true }).isVisible()) throw new Error(`admin nav: ${name} not shown to an admin`);
  }

  // --- a user of a new tenant ---
  await go('#/users');
  await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
  await page.getByRole('table').getByRole('link', { name: 'admin', exact: true }).first().waitFor();
  await page.locator('summary', { hasText: 'New user' }).click();
  await page.getByLabel('Username', { exact: true }).fill('Bad Name');
  await page.getByLabel('Name', { exact: true }).fill('Ada Admin-Test');
  await page.getByLabel('E-mail').fill(`${username}@example.com`);
  await page.getByLabel('Profile').fill('user');
  await page.getByLabel('Tenant').fill(tenant);
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.locator('[data-field="username"] .field-error').getByText('Invalid username').waitFor();
  if (await page.getByLabel('Username', { exact: true }).getAttribute('aria-invalid') !== 'true') throw new Error('the username field is not marked invalid');
  await t.shot('user-field-error');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('heading', { name: `User ${username}` }).waitFor();
  await status(`User ${username} created in tenant ${tenant}, in group user`);
  await page.getByRole('table').getByRole('link', { name: username, exact: true }).waitFor();
  await t.shot('user-created');

  // --- the tenant appears, with its one user ---
  await go('#/tenants');
  await page.getByRole('link', { name: `1 users of tenant ${tenant}` }).waitFor();
  await t.shot('tenants');
  await page.getByRole('link', { name: `1 users of tenant ${tenant}` }).click();
  await page.getByText(`1 user of tenant ${tenant}`).waitFor();

  // --- a group, a permission (a bad regex first), related ---
  await go('#/groups');
  await page.getByRole('heading', { name: 'Groups and permissions' }).waitFor();
  await page.locator('summary', { hasText: 'New group' }).click();
  await page.getByLabel('Group name').fill(group);
  await page.getByLabel('Description').fill('console test group');
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.getByRole('heading', { name: `Group ${group}` }).waitFor();
  await page.locator('summary', { hasText: 'New permission' }).click();
  await page.getByLabel('Permission name').fill(perm);
  await page.getByLabel('Path (regex)').fill('/device/(');
  await page.getByLabel('Method (regex)').fill('GET');
  await page.getByLabel('Decision').selectOption('permit');
  await page.getByRole('button', { name: 'Create permission' }).click();
  await page.locator('[data-field="path"] .field-error').getByText('is not a valid regular expression').waitFor();
  await t.shot('permission-field-error');
  await page.getByLabel('Path (regex)').fill('/device/(.*)');
  await page.getByRole('button', { name: 'Create permission' }).click();
  await status(`Permission ${perm} created.`);
  await page.getByRole('button', { name: `Delete permission ${perm}` }).waitFor();

  const inGroup = page.getByRole('region', { name: `Group ${group}` });
  await inGroup.getByLabel('Permission to add').selectOption({ label: `${perm} (permit GET /device/(.*))` });
  await inGroup.getByRole('button', { name: 'Add permission' }).click();
  await page.getByRole('region', { name: 'Permissions of the group' }).getByRole('cell', { name: perm, exact: true }).waitFor();
  await inGroup.getByLabel('User to add').selectOption({ label: `${username} (${tenant})` });
  await inGroup.getByRole('button', { name: 'Add member' }).click();
  await page.getByRole('region', { name: 'Members' }).getByRole('link', { name: username }).waitFor();
  await t.shot('group');

  // The user's page shows both groups, and what the group gives.
  await go(`#/users?user=${username}`);
  const groups = page.getByRole('region', { name: 'Groups' });
  await groups.getByRole('link', { name: group }).waitFor();
  await groups.getByRole('link', { name: 'user', exact: true }).waitFor();
  await page.locator('summary', { hasText: `Every permission of ${username}` }).click();
  await page.getByRole('cell', { name: perm, exact: true }).first().waitFor();
  await t.shot('user-detail');

  // Edit: an e-mail in use is refused next to its field; a name is saved.
  const editing = page.getByRole('region', { name: `User ${username}` });
  await editing.getByLabel('E-mail').fill('admin@noemail.com');
  await editing.getByRole('button', { name: 'Save user' }).click();
  await editing.locator('[data-field="email"] .field-error').getByText('email already in use').waitFor();
  await t.shot('user-edit-error');
  await editing.getByLabel('E-mail').fill(`${username}@example.com`);
  await editing.getByLabel('Name').fill('Ada Renamed');
  await editing.getByRole('button', { name: 'Save user' }).click();
  await status(`User ${username} saved.`);
  await page.getByRole('cell', { name: 'Ada Renamed' }).waitFor();

  // A direct permission, given and taken away.
  const direct = page.getByRole('region', { name: 'Direct permissions' });
  await direct.getByLabel('Permission to give').selectOption({ label: `${perm} (permit GET /device/(.*))` });
  await direct.getByRole('button', { name: 'Give permission' }).click();
  await direct.getByRole('cell', { name: perm, exact: true }).waitFor();
  await direct.getByRole('button', { name: `Remove permission ${perm} (Direct permissions)` }).click();
  await status(`Permission ${perm} taken away.`);
  await page.getByRole('region', { name: 'Direct permissions' }).getByText('None: its rights come from its groups.').waitFor();
  await page.setViewportSize({ width: 390, height: 800 });
  await t.shot('user-detail-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // --- the new user, in a browser of its own ---
  // Users created through the API get the platform's temporary password
  // ("temppwd", as dojot's auth without a mail server); the user changes it.
  await page.evaluate(async ([base, username, password]) => {
    const call = async (path, body, token) => {
      const res = await fetch(new URL(path, base), {
        method: 'POST', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      });
      if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const { jwt } = await call('auth', { username, passwd: 'temppwd' });
    await call('auth/password/update', { oldpasswd: 'temppwd', newpasswd: password }, jwt);
  }, [t.base, username, password]);

  const other = await t.browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    const p2 = await other.newPage();
    const shot2 = async name => {
      const file = join(process.env.DOJOT_SHOTS, `admin-${name}.png`);
      await p2.screenshot({ path: file, fullPage: true });
      console.log(`SHOT ${file}`);
    };
    await p2.goto(t.base);
    await p2.getByLabel('Username').fill(username);
    await p2.getByLabel('Password').fill(password);
    await p2.getByRole('button', { name: 'Log in' }).click();
    await p2.locator('body[data-page="/devices"]').waitFor();
    if (await p2.locator('#who-tenant').textContent() !== tenant) throw new Error('the new user is not shown in its tenant');
    await p2.getByRole('link', { name: 'Devices', exact: true }).waitFor();
    for (const name of ['Users', 'Groups', 'Tenants']) {
      if (await p2.getByRole('link', { name, exact: true }).isVisible()) throw new Error(`admin nav: ${name} shown to a user of profile user`);
    }
    for (const [hash, heading] of [['#/users', 'Users'], ['#/groups', 'Groups and permissions'], ['#/tenants', 'Tenants']]) {
      await p2.evaluate(h => { location.hash = h; }, hash);
      await p2.getByRole('heading', { name: heading, exact: true }).waitFor();
      await p2.getByRole('alert').getByText('Access denied').first().waitFor();
      if (hash === '#/users') await shot2('refused');
    }
  } finally {
    await other.close();
  }

  // --- clean up through the pages: the user (and so its tenant), the
  // group, the permission ---
  await page.getByRole('button', { name: `Delete user ${username}` }).first().click();
  await status(`User ${username} deleted.`);
  await page.getByRole('heading', { name: `User ${username}` }).waitFor({ state: 'detached' });
  await page.getByRole('table').getByRole('link', { name: 'admin', exact: true }).first().waitFor();
  if (await page.getByRole('link', { name: username, exact: true }).count()) throw new Error('the deleted user is still listed');
  await go('#/tenants');
  await page.getByRole('link', { name: /users of tenant admin$/ }).waitFor();
  if (await page.getByText(tenant, { exact: true }).count()) throw new Error(`tenant ${tenant} outlived its last user`);
  await go(`#/groups?group=${group}`);
  await page.getByRole('heading', { name: `Group ${group}` }).waitFor();
  await page.getByRole('region', { name: `Group ${group}` }).getByRole('button', { name: `Delete group ${group}` }).click();
  await status(`Group ${group} deleted.`);
  await page.getByRole('button', { name: `Delete permission ${perm}` }).click();
  await status(`Permission ${perm} deleted.`);
  if (await page.getByRole('link', { name: group, exact: true }).count()) throw new Error('the deleted group is still listed');
  await t.shot('cleaned-up');
  t.expectNoErrors('status of 400', 'status of 404');
}
