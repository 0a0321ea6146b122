// Token renewal, as the console does it a minute before its token expires
// (the instance's tokens live 420 s: the renewal is forced early through
// the api module's renewNow): the new token differs, lives at least as
// long, is kept in the tab's storage, works, and is what the page sends
// from then on.
export default async function (t) {
  const { page } = t;
  await t.login();
  const r = await page.evaluate(async () => {
    const api = await import(new URL('ui/js/api.js', location.href).href);
    const before = { token: api.session.token, exp: api.session.claims.exp, user: api.session.username };
    const token = await api.renewNow();
    const res = await fetch(api.url('auth/user'), { headers: { Authorization: `Bearer ${token}` } });
    return { before, token, exp: api.session.claims.exp, user: api.session.username, stored: sessionStorage.getItem('dojot.jwt'), status: res.status };
  });
  if (!r.token || r.token === r.before.token) throw new Error('renewal answered no new token');
  if (r.stored !== r.token) throw new Error('the renewed token is not the one kept in the tab');
  if (r.exp < r.before.exp) throw new Error(`renewed exp ${r.exp} before the old ${r.before.exp}`);
  if (r.user !== r.before.user) throw new Error(`renewed for ${r.user}, logged in as ${r.before.user}`);
  if (r.status !== 200) throw new Error(`GET auth/user with the renewed token: ${r.status}`);

  // The page reads with the new token from now on.
  const sent = page.waitForRequest(q => q.url().endsWith('/auth/admin/tenants'));
  await page.evaluate(() => { location.hash = '#/tenants'; });
  const auth = (await sent).headers().authorization;
  if (auth !== `Bearer ${r.token}`) throw new Error('the page still sends the old token');
  await page.getByRole('link', { name: /users of tenant admin$/ }).waitFor();
  await t.shot('renewed');
  t.expectNoErrors('status of 404'); // the devices page, while it is not on main
}
