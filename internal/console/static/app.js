// The console: sign-in, the navigation and the pages, chosen by the part of the address
// after #. Only the token's presence is kept between pages; every page asks the API anew.
import { call, token, whenUnauthorized } from './api.js';
import { replace } from './dom.js';
import { overviewPage } from './overview.js';
import { deadLettersPage } from './deadletters.js';
import { detailPage } from './detail.js';
import { searchPage } from './search.js';

const el = (id) => document.getElementById(id);
const view = el('view');

// leave undoes what the current page started (a refresh timer).
let leave = () => {};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(qs || '') };
}

function route() {
  leave();
  leave = () => {};
  if (!token.get()) {
    showSignin('');
    return;
  }
  el('signin').hidden = true;
  el('nav').hidden = false;
  el('signout').hidden = false;
  const { parts, params } = parseHash();
  const page = parts[0] || 'overview';
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === page);
  }
  replace(view);
  let stop;
  if (page === 'dead-letters' && parts[1]) {
    stop = detailPage(view, parts[1]);
  } else if (page === 'dead-letters') {
    stop = deadLettersPage(view, params);
  } else if (page === 'search') {
    stop = searchPage(view, params);
  } else {
    stop = overviewPage(view);
  }
  if (typeof stop === 'function') leave = stop;
}

function showSignin(message) {
  leave();
  leave = () => {};
  replace(view);
  el('nav').hidden = true;
  el('signout').hidden = true;
  el('signin').hidden = false;
  el('signin-error').textContent = message;
  el('token').focus();
}

el('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = el('token');
  const t = input.value.trim();
  if (!t) return;
  el('signin-error').textContent = '';
  try {
    await call('GET', 'overview', undefined, t);
  } catch (err) {
    el('signin-error').textContent = err.status === 401
      ? 'That token was refused.'
      : `The console could not reach the admin API: ${err.message}`;
    return;
  }
  input.value = '';
  token.set(t);
  route();
});

el('signout').addEventListener('click', () => {
  token.clear();
  showSignin('');
});

whenUnauthorized(() => {
  token.clear();
  showSignin('The admin API refused the token; enter it again.');
});

window.addEventListener('hashchange', route);
route();
