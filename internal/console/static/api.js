// Calls to the admin API. The token lives in this tab's sessionStorage and travels only
// in the Authorization header: never in a URL, never in a cookie.

const tokenKey = 'scriptsync.admin-token';

export const token = {
  get: () => sessionStorage.getItem(tokenKey) || '',
  set: (t) => sessionStorage.setItem(tokenKey, t),
  clear: () => sessionStorage.removeItem(tokenKey),
};

// ApiError is an answer other than 2xx, with the API's error code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

// whenUnauthorized sets what happens when the API refuses the token.
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// call sends one request under /admin/v1/ and returns the decoded answer, or null for
// 204. A body is sent as JSON; POST and DELETE always declare JSON, which the console's
// endpoints require.
export async function call(method, path, body, tok) {
  const headers = { Authorization: `Bearer ${tok || token.get()}`, Accept: 'application/json' };
  if (method === 'POST' || method === 'DELETE') headers['Content-Type'] = 'application/json';
  const resp = await fetch(`/admin/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  if (resp.status === 204) return null;
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && !tok) onUnauthorized();
    throw new ApiError(resp.status, err.code || 'http_' + resp.status,
      err.message || `the server answered ${resp.status}`);
  }
  return data;
}

// query builds a query string from the set values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
