// The login page: dojot's POST /auth.
import { login } from '../api.js';
import { h, field, showError } from '../ui.js';

export default async function (main, params, query) {
  const user = h('input', { autocomplete: 'username', required: true, autocapitalize: 'none' });
  const pass = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { class: 'primary', type: 'submit' }, 'Log in');
  const why = sessionStorage.getItem('dojot.logout');
  sessionStorage.removeItem('dojot.logout');
  const form = h('form', {
    class: 'panel login', 'aria-labelledby': 'login-title',
    onsubmit: async e => {
      e.preventDefault();
      button.disabled = true;
      try {
        await login(user.value.trim(), pass.value);
        location.hash = '#' + (safeNext(query.get('next')) || '/devices');
      } catch (err) {
        // dojot's texts (AuthenticationError, AuthorizationError) are kept,
        // after words a person reads.
        showError(err.status === 401 || err.status === 403 ? `Wrong username or password (${err.message}).` : err);
        pass.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', { id: 'login-title' }, 'Log in to dojot'),
  why ? h('p', { class: 'muted' }, why) : null,
  field('Username', 'username', user),
  field('Password', 'passwd', pass),
  button);
  main.append(form);
  user.focus();
}

// safeNext keeps the page asked for before the login, if it is one of ours.
function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('/login') ? next : '';
}
