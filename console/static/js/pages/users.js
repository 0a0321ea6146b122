// Users (profile admin; others see the API's 403): dojot's auth users —
// search, create, edit, delete — and, for the user chosen (#/users?user=),
// its groups and direct permissions (/auth/pap).
import { get, post, put, del, session } from '../api.js';
import { h, replace, field, guard, notice, showError, table, confirmDanger } from '../ui.js';
import { list, firstRead, userRules, submitting, clicking, utc, relation, permissionColumns, sorted } from '../admin.js';

export default async function (main, params, query) {
  const chosen = query.get('user');
  const tenant = query.get('tenant') || '';
  const detail = h('div');
  const results = h('div');
  const search = h('input', { type: 'search', placeholder: 'part of a username' });
  let sort = { key: 'username', dir: 1 };
  let users = [];

  const showList = () => {
    const rows = sorted(users.filter(u => !tenant || u.service === tenant), sort);
    replace(results, table([
      { key: 'username', label: 'Username', render: u => h('a', { href: `#/users?user=${encodeURIComponent(u.username)}` }, u.username) },
      { key: 'name', label: 'Name' },
      { key: 'email', label: 'E-mail' },
      { key: 'service', label: 'Tenant', render: u => h('a', { href: `#/users?tenant=${encodeURIComponent(u.service)}` }, u.service) },
      { key: 'profile', label: 'Profile', render: u => h('span', { class: 'tag' }, u.profile) },
      { key: 'created_date', label: 'Created', render: u => utc(u.created_date) },
      { key: 'actions', label: 'Actions', sort: false, render: u => deleteButton(u) },
    ], rows, {
      sort, onSort: key => { sort = { key, dir: sort.key === key ? -sort.dir : 1 }; showList(); },
      empty: search.value || tenant ? 'No user matches.' : 'No users.',
      caption: `${rows.length} user${rows.length === 1 ? '' : 's'}${tenant ? ` of tenant ${tenant}` : ''}`,
    }));
  };
  const load = () => guard(async () => {
    users = await list('auth/user', 'users', { username: search.value.trim() });
    showList();
  });

  const deleteButton = u => h('button', {
    type: 'button', class: 'danger', 'aria-label': `Delete user ${u.username}`,
    onclick: clicking(async () => {
      if (!confirmDanger(`Delete user ${u.username} (tenant ${u.service})? This cannot be undone.`)) return;
      await del(`auth/user/${u.id}`);
      notice(`User ${u.username} deleted.`);
      if (chosen === u.username || chosen === u.id) location.hash = '#/users';
      else await load();
    }),
  }, 'Delete');

  main.append(h('h1', {}, 'Users'));
  if (!await firstRead(async () => { users = await list('auth/user', 'users'); })) return;
  main.append(
    h('form', { class: 'toolbar', role: 'search', onsubmit: e => { e.preventDefault(); load(); } },
      field('Search users', 'username', search), h('button', { type: 'submit' }, 'Search'),
      tenant ? h('a', { class: 'button', href: '#/users', 'aria-label': `Show every tenant's users (now: ${tenant})` }, `Tenant ${tenant} ×`) : null),
    results, detail, createForm(tenant, async created => {
      location.hash = `#/users?user=${encodeURIComponent(created.username)}`;
    }));
  showList();
  if (chosen) await showUser(detail, chosen, load, deleteButton);
}

// createForm is the new user form: dojot's POST /auth/user, which answers
// [{"user", "groups", "could not add", "message"}, 200].
function createForm(tenant, done) {
  const groups = h('datalist', { id: 'profile-choices' });
  const tenants = h('datalist', { id: 'tenant-choices' });
  const input = (attrs = {}) => h('input', { required: true, autocomplete: 'off', ...attrs });
  const form = h('form', {
    onsubmit: submitting(userRules, async f => {
      const v = name => f.elements[name].value.trim();
      const body = { username: v('username'), name: v('name'), email: v('email'), profile: v('profile'), service: v('service') };
      const [res] = await post('auth/user', body);
      const u = res.user;
      notice(`User ${u.username} created in tenant ${u.service}${res.groups?.length ? `, in group ${res.groups.join(', ')}` : ''}. It logs in with the platform's temporary password, then changes it.`);
      if (res['could not add']?.length) showError(`User ${u.username} is in no group named ${res['could not add'].join(', ')}: no such group. Add it to one below.`);
      f.reset();
      await done(u);
    }),
  },
  h('div', { class: 'grid' },
    field('Username', 'username', input({ autocapitalize: 'none' }), 'a letter, then lowercase letters, digits or _'),
    field('Name', 'name', input()),
    field('E-mail', 'email', input({ type: 'email' })),
    field('Profile', 'profile', input({ list: 'profile-choices', value: 'user' }), 'names the group the user joins (admin, user, …)'),
    field('Tenant', 'service', input({ list: 'tenant-choices', value: tenant, autocapitalize: 'none' }), 'an existing tenant, or a new one (created with its first user)')),
  groups, tenants, h('button', { type: 'submit', class: 'primary' }, 'Create user'));
  const box = h('details', { class: 'panel' }, h('summary', {}, 'New user'), form);
  // The choices are read when the form is opened: the page shows at once.
  box.addEventListener('toggle', () => box.open && guard(async () => {
    const [gs, ts] = await Promise.all([list('auth/pap/group', 'groups'), get('auth/admin/tenants')]);
    replace(groups, gs.map(g => h('option', { value: g.name })));
    replace(tenants, (ts.tenants || []).map(t => h('option', { value: t })));
  }), { once: true });
  return box;
}

// showUser shows one user: its record (edit), groups and direct
// permissions, and every permission it has (direct and through groups).
async function showUser(box, ref, reload, deleteButton) {
  const again = async () => { await reload(); await showUser(box, ref, reload, deleteButton); };
  await guard(async () => {
    const { user: u } = await get(`auth/user/${encodeURIComponent(ref)}`);
    const [groups, direct, all, allGroups, allPerms] = await Promise.all([
      list(`auth/pap/user/${u.id}/groups`, 'groups'),
      list(`auth/pap/user/${u.id}/directpermissions`, 'permissions'),
      list(`auth/pap/user/${u.id}/allpermissions`, 'permissions'),
      list('auth/pap/group', 'groups'),
      list('auth/pap/permission', 'permissions'),
    ]);
    const input = (name, value, attrs = {}) => h('input', { required: true, value, ...attrs });
    const edit = h('form', {
      onsubmit: submitting(userRules, async f => {
        const v = name => f.elements[name].value.trim();
        await put(`auth/user/${u.id}`, { name: v('name'), email: v('email'), service: v('service') });
        notice(`User ${u.username} saved.`);
        await again();
      }),
    },
    h('p', { class: 'muted' }, `Username and profile cannot change. Created ${utc(u.created_date)}.`),
    h('div', { class: 'grid' },
      field('Name', 'name', input('name', u.name)),
      field('E-mail', 'email', input('email', u.email, { type: 'email' })),
      field('Tenant', 'service', input('service', u.service, { autocapitalize: 'none' }))),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Save user'), deleteButton(u)));
    const has = new Set(groups.map(g => g.id));
    const hasPerm = new Set(direct.map(p => p.id));
    replace(box, h('section', { class: 'panel', 'aria-labelledby': 'user-title' },
      h('h2', { id: 'user-title' }, `User ${u.username} `, h('span', { class: 'tag' }, u.profile),
        u.username === session.username ? h('span', { class: 'muted' }, ' (you)') : null),
      edit,
      h('div', { class: 'grid' },
        relation({
          title: 'Groups', items: groups, empty: 'In no group: no rights but its direct permissions.',
          columns: [{ key: 'name', label: 'Group', render: g => h('a', { href: `#/groups?group=${encodeURIComponent(g.name)}` }, g.name) },
            { key: 'description', label: 'Description' }],
          choices: allGroups.filter(g => !has.has(g.id)).map(g => ({ value: g.id, label: g.name })),
          pick: 'Group to add', add: 'Add to group', name: g => `group ${g.name}`,
          onAdd: async id => { await post(`auth/pap/usergroup/${u.id}/${id}`); notice(`${u.username} added to the group.`); await again(); },
          onRemove: async g => { await del(`auth/pap/usergroup/${u.id}/${g.id}`); notice(`${u.username} left group ${g.name}.`); await again(); },
        }),
        relation({
          title: 'Direct permissions', items: direct, columns: permissionColumns, empty: 'None: its rights come from its groups.',
          choices: allPerms.filter(p => !hasPerm.has(p.id)).map(p => ({ value: p.id, label: `${p.name} (${p.permission} ${p.method} ${p.path})` })),
          pick: 'Permission to give', add: 'Give permission', name: p => `permission ${p.name}`,
          onAdd: async id => { await post(`auth/pap/userpermissions/${u.id}/${id}`); notice('Permission given.'); await again(); },
          onRemove: async p => { await del(`auth/pap/userpermissions/${u.id}/${p.id}`); notice(`Permission ${p.name} taken away.`); await again(); },
        })),
      h('details', {}, h('summary', {}, `Every permission of ${u.username} (${all.length}: direct and through its groups; a deny wins)`),
        table(permissionColumns, all, { empty: 'None: every request is denied.' }))));
    box.querySelector('h2').scrollIntoView({ block: 'nearest' });
  });
}
