// The overview: rates and lag over the last minutes, refreshed live, and what the
// dead-letter stream holds now.
import { call } from './api.js';
import { h, svg, replace, fmtRate, fmtTime, fmtDuration, since } from './dom.js';
import { reasonOrder, reasonText } from './reasons.js';

export function overviewPage(view) {
  const body = h('div', { className: 'cards' });
  const foot = h('p', { className: 'muted', id: 'overview-updated' });
  const err = h('p', { className: 'error', role: 'alert' });
  replace(view, h('h1', {}, 'Overview'), err, body, foot);

  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const o = await call('GET', 'overview');
      if (stopped) return;
      err.textContent = '';
      render(body, o);
      foot.textContent = `Sampled every ${o.interval_seconds} s, the last ` +
        `${fmtDuration(o.window_seconds * 1000)} kept; updated ${fmtTime(o.now)}.`;
      timer = setTimeout(load, Math.max(o.interval_seconds, 1) * 1000);
    } catch (e) {
      if (stopped) return;
      err.textContent = `Could not load the overview: ${e.message}`;
      timer = setTimeout(load, 5000);
    }
  };
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// recentSeconds is the span the big numbers average over.
const recentSeconds = 15;

function render(body, o) {
  const pts = o.points || [];
  const m = o.measured || {};
  const span = pts.length ? since(pts[0].time, o.now) : 0;
  const recent = pts.slice(-Math.max(1, Math.round(recentSeconds / o.interval_seconds)));
  const avg = (key) => (recent.length
    ? recent.reduce((a, p) => a + p[key], 0) / recent.length : null);
  const unit = (what) => `${what} per second, the last ${recentSeconds} s`;
  const cards = [
    rateCard('Events in', unit('stored by the ingest,'), m.ingest, avg('in_per_second'),
      series(pts, 'in_per_second', span), `${Math.round(o.totals.in)} in the window`, 'in'),
    rateCard('Applied', unit('written to Genesys,'), m.worker, avg('applied_per_second'),
      series(pts, 'applied_per_second', span), `${Math.round(o.totals.applied)} in the window`,
      'applied'),
    lagCard(o, pts, span),
    rateCard('429s from Genesys', unit('answers'), m.genesys, avg('rate_limited_per_second'),
      series(pts, 'rate_limited_per_second', span),
      `${Math.round(o.totals.rate_limited)} in the window`, 'rate-limited'),
    deadNowCard(o.dead_letters),
    deadWindowCard(o, m, pts, span),
  ];
  replace(body, cards);
}

// series picks one figure of every point, for spark.
function series(pts, key, span, fmt) {
  return { values: pts.map((p) => (p[key] === undefined ? null : p[key])), span,
    fmt: fmt || ((v) => `${fmtRate(v)}/s`) };
}

function card(key, title, ...children) {
  return h('section', { className: 'card', 'data-card': key }, h('h2', {}, title), children);
}

function rateCard(title, unit, has, value, series, note, key) {
  if (!has) {
    return card(key, title, h('p', { className: 'big muted' }, '—'),
      h('p', { className: 'muted' }, 'Not measured by this process.'));
  }
  return card(key, title,
    h('p', { className: 'big', 'data-value': key }, value === null ? '…' : fmtRate(value)),
    h('p', { className: 'muted' }, unit),
    spark(series),
    h('p', { className: 'muted' }, note));
}

function lagCard(o, pts, span) {
  if (!o.lag) {
    return card('lag', 'Consumer lag', h('p', { className: 'big muted' }, '—'),
      h('p', { className: 'muted' }, 'The workers\' consumer could not be read.'));
  }
  const total = o.lag.num_pending + o.lag.num_ack_pending;
  return card('lag', 'Consumer lag',
    h('p', { className: 'big', 'data-value': 'lag' }, String(total)),
    h('p', { className: 'muted' },
      `events: ${o.lag.num_pending} not yet delivered, ${o.lag.num_ack_pending} delivered ` +
      'and not yet settled'),
    spark(series(pts, 'lag', span, (v) => String(Math.round(v)))));
}

function deadNowCard(d) {
  const wrap = [];
  if (d.error) {
    wrap.push(h('p', { className: 'error' }, `Could not read the stream: ${d.error}`));
  }
  wrap.push(h('p', { className: 'big', 'data-value': 'dead-letters' }, String(d.total)));
  wrap.push(h('p', { className: 'muted' }, 'entries in the dead-letter stream now'));
  wrap.push(bars(d.by_reason || {}, d.total, (reason) => `#/dead-letters?reason=${reason}`));
  return card('dead-letters', 'Dead letters', wrap);
}

function deadWindowCard(o, m, pts, span) {
  if (!m.worker) {
    return card('dead-lettered', 'Dead-lettered', h('p', { className: 'big muted' }, '—'),
      h('p', { className: 'muted' }, 'Not measured by this process.'));
  }
  const by = o.totals.dead_lettered_by_reason || {};
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  return card('dead-lettered', 'Dead-lettered',
    h('p', { className: 'big' }, String(Math.round(total))),
    h('p', { className: 'muted' }, 'events given up in the window, by this process'),
    spark(series(pts, 'dead_lettered_per_second', span)),
    bars(by, total, null));
}

// bars draws one bar per reason, longest first by the documented order of reasons.
function bars(byReason, total, link) {
  const reasons = reasonOrder(Object.keys(byReason)).filter((r) => byReason[r] > 0);
  if (reasons.length === 0) return h('p', { className: 'muted' }, 'None.');
  return h('ul', { className: 'bars' }, reasons.map((r) => {
    const fill = h('span', { className: 'fill' });
    fill.style.width = `${Math.max(2, (100 * byReason[r]) / Math.max(total, 1))}%`;
    const name = link ? h('a', { href: link(r) }, r) : h('span', {}, r);
    return h('li', { title: reasonText(r), 'data-reason': r },
      h('span', { className: 'label' }, name),
      h('span', { className: 'track' }, fill),
      h('span', { className: 'count' }, String(Math.round(byReason[r]))));
  }));
}

// spark draws a series as a small line; gaps (null) break the line. It is labelled with
// its highest value and how far back it starts.
function spark({ values: series, span, fmt }) {
  const w = 240;
  const hgt = 48;
  const vals = series.filter((v) => v !== null && Number.isFinite(v));
  const top = Math.max(1e-9, ...vals);
  const root = svg('svg', { viewBox: `0 0 ${w} ${hgt}`, class: 'spark',
    preserveAspectRatio: 'none', role: 'img' });
  if (series.length < 2) {
    return h('div', {}, root, h('p', { className: 'spark-axis' }, 'collecting samples…'));
  }
  const step = w / (series.length - 1);
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      root.appendChild(svg('polyline', { points: run.join(' '), class: 'spark-line' }));
    }
    run = [];
  };
  series.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      flush();
      return;
    }
    const y = hgt - 3 - ((hgt - 6) * v) / top;
    run.push(`${(i * step).toFixed(1)},${y.toFixed(1)}`);
  });
  flush();
  return h('div', {}, root, h('p', { className: 'spark-axis' },
    h('span', {}, `${fmtDuration(span)} ago`),
    h('span', {}, `max ${fmt(vals.length ? Math.max(...vals) : 0)}`)));
}
