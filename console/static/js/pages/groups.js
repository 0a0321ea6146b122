// Groups and permissions (profile admin; others see the API's 403): dojot's
// /auth/pap — groups (create, rename, delete), the group chosen
// (#/groups?group=) with its permissions and members, and the permissions
// themselves (a path regex, a method regex, permit or deny).
import { get, post, put, del } from '../api.js';
import { h, replace, field, guard, notice, table, confirmDanger } from '../ui.js';
import { list, firstRead, groupRules, permissionRules, submitting, clicking, utc, relation, permissionColumns, sorted } from '../admin.js';

export default async function (main, params, query) {
  const chosen = query.get('group');
  const groupsBox = h('div');
  const detail = h('div');
  const permsBox = h('div');
  let groups = [], perms = [];
  let gsort = { key: 'name', dir: 1 }, psort = { key: 'name', dir: 1 };

  const showGroups = () => replace(groupsBox, table([
    { key: 'name', label: 'Name', render: g => h('a', { href: `#/groups?group=${encodeURIComponent(g.name)}` }, g.name) },
    { key: 'description', label: 'Description' },
    { key: 'created_date', label: 'Created', render: g => utc(g.created_date) },
    { key: 'actions', label: 'Actions', sort: false, render: g => deleteGroup(g) },
  ], sorted(groups, gsort), { sort: gsort, onSort: key => { gsort = { key, dir: gsort.key === key ? -gsort.dir : 1 }; showGroups(); }, empty: 'No groups.' }));
  const showPerms = () => replace(permsBox, table([
    ...permissionColumns,
    { key: 'type', label: 'Type' },
    {
      key: 'actions', label: 'Actions', sort: false,
      render: p => p.type === 'api' ? h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete permission ${p.name}`,
        onclick: clicking(async () => {
          if (!confirmDanger(`Delete permission ${p.name}? Groups and users that have it lose it.`)) return;
          await del(`auth/pap/permission/${p.id}`);
          notice(`Permission ${p.name} deleted.`);
          await refresh();
        }),
      }, 'Delete') : h('span', { class: 'muted' }, 'built in'),
    },
  ], sorted(perms, psort), { sort: psort, onSort: key => { psort = { key, dir: psort.key === key ? -psort.dir : 1 }; showPerms(); }, empty: 'No permissions.' }));

  // dojot's auth refuses to delete its admin group: no button for it.
  const deleteGroup = g => g.name === 'admin' ? null : h('button', {
    type: 'button', class: 'danger', 'aria-label': `Delete group ${g.name}`,
    onclick: clicking(async () => {
      if (!confirmDanger(`Delete group ${g.name}? Its members lose the rights it gives.`)) return;
      await del(`auth/pap/group/${g.id}`);
      notice(`Group ${g.name} deleted.`);
      if (chosen === g.name || chosen === String(g.id)) location.hash = '#/groups';
      else await refresh();
    }),
  }, 'Delete');

  const read = async () => {
    [groups, perms] = await Promise.all([list('auth/pap/group', 'groups'), list('auth/pap/permission', 'permissions')]);
    showGroups();
    showPerms();
  };
  const refresh = async () => {
    await guard(read);
    if (chosen) await showGroup(detail, chosen, refresh, deleteGroup);
  };

  const input = (attrs = {}) => h('input', { required: true, autocomplete: 'off', ...attrs });
  const newGroup = h('details', { class: 'panel' }, h('summary', {}, 'New group'),
    h('form', {
      onsubmit: submitting(groupRules, async f => {
        const name = f.elements.name.value.trim();
        await post('auth/pap/group', { name, description: f.elements.description.value });
        notice(`Group ${name} created.`);
        f.reset();
        location.hash = `#/groups?group=${encodeURIComponent(name)}`;
      }),
    },
    h('div', { class: 'grid' }, field('Group name', 'name', input(), 'letters and digits only'),
      field('Description', 'description', h('input', { autocomplete: 'off' }))),
    h('button', { type: 'submit', class: 'primary' }, 'Create group')));
  const newPerm = h('details', { class: 'panel' }, h('summary', {}, 'New permission'),
    h('form', {
      onsubmit: submitting(permissionRules, async f => {
        const v = name => f.elements[name].value.trim();
        await post('auth/pap/permission', { name: v('name'), path: v('path'), method: v('method'), permission: v('permission') });
        notice(`Permission ${v('name')} created.`);
        f.reset();
        await refresh();
      }),
    },
    h('div', { class: 'grid' },
      field('Permission name', 'name', input({ autocapitalize: 'none' }), 'lowercase letters, digits and _'),
      field('Path (regex)', 'path', input({ class: 'mono', placeholder: '/device/(.*)' }), 'matched from the start of the request path (a / is appended to it)'),
      field('Method (regex)', 'method', input({ class: 'mono', placeholder: 'GET|POST' }), 'matched from the start of the HTTP method'),
      field('Decision', 'permission', h('select', {}, h('option', { value: 'permit' }, 'permit'), h('option', { value: 'deny' }, 'deny')),
        'a deny wins over any permit')),
    h('button', { type: 'submit', class: 'primary' }, 'Create permission')));

  main.append(h('h1', {}, 'Groups and permissions'));
  if (!await firstRead(read)) return;
  main.append(groupsBox, newGroup, detail, h('h2', { id: 'permissions' }, 'Permissions'), permsBox, newPerm);
  if (chosen) await showGroup(detail, chosen, refresh, deleteGroup);
}

// showGroup shows one group: rename, its permissions and its members.
async function showGroup(box, ref, refresh, deleteGroup) {
  await guard(async () => {
    const g = await get(`auth/pap/group/${encodeURIComponent(ref)}`);
    const [perms, members, allPerms, allUsers] = await Promise.all([
      list(`auth/pap/group/${g.id}/permissions`, 'permissions'),
      list(`auth/pap/group/${g.id}/users`, 'users'),
      list('auth/pap/permission', 'permissions'),
      list('auth/user', 'users'),
    ]);
    const rename = h('form', {
      onsubmit: submitting(groupRules, async f => {
        const name = f.elements.name.value.trim();
        await put(`auth/pap/group/${g.id}`, { name, description: f.elements.description.value });
        notice(`Group ${name} saved.`);
        if (name !== g.name) location.hash = `#/groups?group=${encodeURIComponent(name)}`;
        else await refresh();
      }),
    },
    h('div', { class: 'grid' },
      field('Group name', 'name', h('input', { required: true, value: g.name })),
      field('Description', 'description', h('input', { value: g.description ?? '' }))),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Save group'), deleteGroup(g)));
    const hasPerm = new Set(perms.map(p => p.id));
    const isMember = new Set(members.map(u => u.id));
    replace(box, h('section', { class: 'panel', 'aria-labelledby': 'group-title' },
      h('h2', { id: 'group-title' }, `Group ${g.name}`),
      h('p', { class: 'muted' }, `Created ${utc(g.created_date)}.`),
      rename,
      h('div', { class: 'grid' },
        relation({
          title: 'Permissions of the group', items: perms, columns: permissionColumns, empty: 'No permissions: membership gives no rights.',
          choices: allPerms.filter(p => !hasPerm.has(p.id)).map(p => ({ value: p.id, label: `${p.name} (${p.permission} ${p.method} ${p.path})` })),
          pick: 'Permission to add', add: 'Add permission', name: p => `permission ${p.name}`,
          onAdd: async id => { await post(`auth/pap/grouppermissions/${g.id}/${id}`); notice(`Permission added to ${g.name}.`); await refresh(); },
          onRemove: async p => { await del(`auth/pap/grouppermissions/${g.id}/${p.id}`); notice(`Permission ${p.name} removed from ${g.name}.`); await refresh(); },
        }),
        relation({
          title: 'Members', items: members, empty: 'No members.',
          columns: [{ key: 'username', label: 'User', render: u => h('a', { href: `#/users?user=${encodeURIComponent(u.username)}` }, u.username) },
            { key: 'service', label: 'Tenant' }],
          choices: allUsers.filter(u => !isMember.has(u.id)).map(u => ({ value: u.id, label: `${u.username} (${u.service})` })),
          pick: 'User to add', add: 'Add member', name: u => `user ${u.username}`,
          onAdd: async id => { await post(`auth/pap/usergroup/${id}/${g.id}`); notice(`Member added to ${g.name}.`); await refresh(); },
          onRemove: async u => { await del(`auth/pap/usergroup/${u.id}/${g.id}`); notice(`${u.username} removed from ${g.name}.`); await refresh(); },
        }))));
    box.querySelector('h2').scrollIntoView({ block: 'nearest' });
  });
}
