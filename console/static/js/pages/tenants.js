// Tenants (profile admin; others see the API's 403): GET auth/admin/tenants,
// with each tenant's count of users from the users list. A tenant exists
// while it has users: its first user creates it, its last one's removal
// deletes it.
import { get, session } from '../api.js';
import { h, table } from '../ui.js';
import { list, firstRead, sorted } from '../admin.js';

export default async function (main) {
  main.append(h('h1', {}, 'Tenants'),
    h('p', { class: 'muted' }, 'A tenant is created with its first user (New user, on the users page) and removed with its last.'));
  const box = h('div');
  main.append(box);
  let sort = { key: 'tenant', dir: 1 };
  await firstRead(async () => {
    const [{ tenants = [] }, users] = await Promise.all([get('auth/admin/tenants'), list('auth/user', 'users')]);
    const count = new Map();
    for (const u of users) count.set(u.service, (count.get(u.service) || 0) + 1);
    const rows = tenants.map(t => ({ tenant: t, users: count.get(t) || 0 }));
    const show = () => box.replaceChildren(table([
      { key: 'tenant', label: 'Tenant', render: r => [h('span', { class: 'mono' }, r.tenant), r.tenant === session.tenant ? h('span', { class: 'muted' }, ' (yours)') : null] },
      { key: 'users', label: 'Users', render: r => h('a', { href: `#/users?tenant=${encodeURIComponent(r.tenant)}`, 'aria-label': `${r.users} users of tenant ${r.tenant}` }, String(r.users)) },
    ], sorted(rows, sort), {
      sort, onSort: key => { sort = { key, dir: sort.key === key ? -sort.dir : 1 }; show(); },
      caption: `${rows.length} tenant${rows.length === 1 ? '' : 's'}, ${users.length} user${users.length === 1 ? '' : 's'}`,
    }));
    show();
  });
}
