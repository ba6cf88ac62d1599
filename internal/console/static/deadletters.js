// The dead-letter list: filters, entries grouped by reason with counts, and replay or
// delete of a selection or of everything the filter matches.
import { call, query } from './api.js';
import { h, replace, fmtTime, toRFC3339, toLocalInput } from './dom.js';
import { reasonNames, reasonOrder, reasonText } from './reasons.js';
import { perform } from './actions.js';

// pageSize is how many entries one "load more" reads.
const pageSize = 500;

export function deadLettersPage(view, params) {
  const filter = {
    reason: params.get('reason') || '',
    conversation_id: params.get('conversation_id') || '',
    since: params.get('since') || '',
    until: params.get('until') || '',
  };
  const state = { entries: [], next: 0, counts: null, selected: new Set() };
  const err = h('p', { className: 'error', role: 'alert' });
  const groups = h('div', { id: 'groups' }, h('p', { className: 'muted' }, 'Loading…'));
  const more = h('div', { className: 'more' });
  const toolbar = h('div', { className: 'toolbar' });
  replace(view, h('h1', {}, 'Dead letters'), filterForm(filter), toolbar, err, groups, more);

  const redraw = () => {
    drawToolbar(toolbar, filter, state, reload);
    drawGroups(groups, state, redraw);
    replace(more);
    if (state.next) {
      more.appendChild(h('button', { type: 'button', className: 'quiet', id: 'load-more',
        onclick: () => loadPage().then(redraw, showError) }, 'Load more'));
    }
  };
  const showError = (e) => {
    err.textContent = `Could not load the dead letters: ${e.message}`;
  };
  const loadPage = async () => {
    const page = await call('GET', 'dead-letters' + query({ ...filter, limit: pageSize,
      after: state.next || '' }));
    state.entries = state.entries.concat(page.entries || []);
    state.next = page.next || 0;
  };
  const reload = async () => {
    state.entries = [];
    state.next = 0;
    state.selected.clear();
    err.textContent = '';
    try {
      const [counts] = await Promise.all([
        call('GET', 'dead-letter-reasons' + query({ conversation_id: filter.conversation_id,
          since: filter.since, until: filter.until })),
        loadPage(),
      ]);
      state.counts = counts;
      redraw();
    } catch (e) {
      replace(groups);
      showError(e);
    }
  };
  reload();
}

function filterForm(f) {
  const reason = h('select', { id: 'filter-reason', name: 'reason' },
    h('option', { value: '' }, 'any reason'),
    reasonNames.map((r) => h('option', { value: r, selected: r === f.reason }, r)));
  const conv = h('input', { id: 'filter-conversation', name: 'conversation_id', type: 'text',
    value: f.conversation_id, placeholder: 'conversation id', spellcheck: false });
  const since = h('input', { id: 'filter-since', type: 'datetime-local',
    value: toLocalInput(f.since) });
  const until = h('input', { id: 'filter-until', type: 'datetime-local',
    value: toLocalInput(f.until) });
  const apply = (e) => {
    e.preventDefault();
    location.hash = '#/dead-letters' + query({ reason: reason.value,
      conversation_id: conv.value.trim(), since: toRFC3339(since.value),
      until: toRFC3339(until.value) });
  };
  return h('form', { className: 'filters', id: 'filters', onsubmit: apply },
    h('label', {}, 'Reason', reason),
    h('label', {}, 'Conversation', conv),
    h('label', {}, 'Stored from', since),
    h('label', {}, 'until', until),
    h('button', { type: 'submit', id: 'filter-apply' }, 'Apply'),
    h('a', { href: '#/dead-letters', className: 'button quiet' }, 'Clear'));
}

function isFiltered(f) {
  return Boolean(f.reason || f.conversation_id || f.since || f.until);
}

function drawToolbar(bar, filter, state, reload) {
  const n = state.selected.size;
  const seqs = () => [...state.selected];
  const matching = isFiltered(filter) ? 'every entry the filter matches'
    : 'every dead letter';
  const act = (verb, target, what) => async () => {
    const res = await perform(verb, target, what);
    if (res) reload();
  };
  const total = state.counts ? state.counts.total : 0;
  replace(bar,
    h('button', { type: 'button', id: 'refresh', className: 'quiet', onclick: reload },
      'Refresh'),
    h('span', { className: 'selection', id: 'selection-count' },
      n ? `${n} selected` : 'None selected'),
    h('button', { type: 'button', id: 'replay-selected', disabled: n === 0,
      onclick: act('replay', { sequences: seqs() }, n === 1 ? 'the selected entry'
        : `the ${n} selected entries`) }, 'Replay selected'),
    h('button', { type: 'button', id: 'delete-selected', className: 'danger', disabled: n === 0,
      onclick: act('delete', { sequences: seqs() }, n === 1 ? 'the selected entry'
        : `the ${n} selected entries`) }, 'Delete selected'),
    h('span', { className: 'spacer' }),
    h('button', { type: 'button', id: 'replay-matching', className: 'quiet',
      disabled: total === 0, onclick: act('replay', { filter: filterBody(filter) }, matching) },
    isFiltered(filter) ? 'Replay all matching' : 'Replay all'),
    h('button', { type: 'button', id: 'delete-matching', className: 'quiet danger-text',
      disabled: total === 0, onclick: act('delete', { filter: filterBody(filter) }, matching) },
    isFiltered(filter) ? 'Delete all matching' : 'Delete all'));
}

function filterBody(f) {
  const body = {};
  for (const k of ['reason', 'conversation_id', 'since', 'until']) {
    if (f[k]) body[k] = f[k];
  }
  return body;
}

function drawGroups(root, state, redraw) {
  const byReason = new Map();
  for (const e of state.entries) {
    if (!byReason.has(e.reason)) byReason.set(e.reason, []);
    byReason.get(e.reason).push(e);
  }
  const counts = (state.counts && state.counts.by_reason) || {};
  const reasons = reasonOrder([...byReason.keys()]);
  if (reasons.length === 0) {
    replace(root, h('p', { className: 'empty', id: 'no-dead-letters' },
      'No dead letters match.'));
    return;
  }
  replace(root, reasons.map((r) => group(r, byReason.get(r), counts[r], state, redraw)));
}

function group(reason, entries, count, state, redraw) {
  const all = entries.every((e) => state.selected.has(e.sequence));
  const pick = h('input', { type: 'checkbox', checked: all, 'aria-label': `select every ${reason}`,
    onchange: (e) => {
      for (const x of entries) {
        if (e.target.checked) state.selected.add(x.sequence);
        else state.selected.delete(x.sequence);
      }
      redraw();
    } });
  const shown = count !== undefined && count > entries.length
    ? ` (${entries.length} shown)` : '';
  return h('section', { className: 'group', 'data-group': reason },
    h('header', {},
      pick,
      h('h2', {}, reason),
      h('span', { className: 'badge', 'data-count': reason },
        String(count !== undefined ? count : entries.length)),
      h('span', { className: 'muted' }, shown),
      h('p', { className: 'muted why' }, reasonText(reason))),
    h('table', { className: 'entries' },
      h('thead', {}, h('tr', {},
        h('th', {}, ''), h('th', {}, 'Seq'), h('th', {}, 'Stored'),
        h('th', {}, 'Conversation'), h('th', {}, 'Event'), h('th', {}, 'Error'),
        h('th', { className: 'num' }, 'Attempts'), h('th', {}, 'Summary'))),
      h('tbody', {}, entries.map((e) => row(e, state, redraw)))));
}

function row(e, state, redraw) {
  const link = `#/dead-letters/${e.sequence}`;
  const err = [e.class, e.status ? String(e.status) : '', e.code].filter(Boolean).join(' · ');
  return h('tr', { 'data-seq': e.sequence },
    h('td', {}, h('input', { type: 'checkbox', checked: state.selected.has(e.sequence),
      'aria-label': `select ${e.sequence}`, 'data-select': e.sequence,
      onchange: (ev) => {
        if (ev.target.checked) state.selected.add(e.sequence);
        else state.selected.delete(e.sequence);
        redraw();
      } })),
    h('td', {}, h('a', { href: link, 'data-open': e.sequence }, String(e.sequence))),
    h('td', { className: 'nowrap' }, fmtTime(e.stored_at)),
    h('td', { className: 'mono' }, e.conversation_id || (e.undecodable ? 'undecodable' : '—')),
    h('td', {}, e.event_type || '—'),
    h('td', {}, err || '—'),
    h('td', { className: 'num' }, String(e.attempts || 0)),
    h('td', { className: 'summary' }, e.summary || ''));
}
