// Building the page. Every piece of text, from the API or elsewhere, goes in as a text
// node or textContent: nothing is ever parsed as HTML.

// h makes an element. attrs sets properties (className, href, type, ...), "data-*" and
// "aria-*" attributes, and "on*" listeners; children are nodes, strings or arrays of them,
// and null or false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) {
      el.addEventListener(k.slice(2), v);
    } else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'for') {
      el.setAttribute(k, String(v));
    } else {
      el[k] = v;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) {
      append(el, c);
    } else if (c instanceof Node) {
      el.appendChild(c);
    } else {
      el.appendChild(document.createTextNode(String(c)));
    }
  }
}

// svg makes an SVG element with the given attributes.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// replace puts children in place of el's content.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const pad = (n) => String(n).padStart(2, '0');

// fmtTime writes an RFC 3339 time in local time, to the second.
export function fmtTime(iso) {
  if (!iso || iso.startsWith('0001-')) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// fmtDuration writes a span in milliseconds as "1h 2m", "3m 4s", "5.2s" or "120ms".
export function fmtDuration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const neg = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${neg}${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${neg}${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${neg}${m}m ${Math.round(s % 60)}s`;
  return `${neg}${Math.floor(m / 60)}h ${m % 60}m`;
}

// fmtRate writes a per-second rate with sensible precision.
export function fmtRate(v) {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(2);
  return v.toFixed(0);
}

// since returns the milliseconds between two RFC 3339 times.
export function since(a, b) {
  return new Date(b).getTime() - new Date(a).getTime();
}

// toRFC3339 turns a datetime-local input's value into an RFC 3339 time; '' stays ''.
export function toRFC3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

// toLocalInput turns an RFC 3339 time into a datetime-local input's value.
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
