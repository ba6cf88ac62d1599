// Search by conversation id: the conversation's events in the event stream and its dead
// letters, phone numbers masked unless revealed.
import { call, query } from './api.js';
import { h, replace, fmtTime } from './dom.js';

export function searchPage(view, params) {
  const conv = params.get('conversation_id') || '';
  const input = h('input', { id: 'search-conversation', type: 'search', value: conv,
    placeholder: 'conversation id', spellcheck: false, required: true });
  const results = h('div', { id: 'search-results' });
  const form = h('form', { className: 'filters', id: 'search-form', onsubmit: (e) => {
    e.preventDefault();
    location.hash = '#/search' + query({ conversation_id: input.value.trim() });
  } }, h('label', {}, 'Conversation', input), h('button', { type: 'submit' }, 'Search'));
  replace(view, h('h1', {}, 'Search'), form, results);
  if (!conv) {
    results.appendChild(h('p', { className: 'muted' },
      'Finds a conversation\'s events in the event stream and its dead letters.'));
    return undefined;
  }
  let reveal = false;
  const load = async () => {
    replace(results, h('p', { className: 'muted' }, 'Searching…'));
    try {
      const r = await call('GET', 'search' + query({ conversation_id: conv, reveal }));
      replace(results, render(r, reveal, () => {
        reveal = !reveal;
        load();
      }));
    } catch (e) {
      replace(results, h('p', { className: 'error', role: 'alert' },
        `Search failed: ${e.message}`));
    }
  };
  load();
  return undefined;
}

function render(r, revealed, toggle) {
  const shown = r.events.length < r.events_total
    ? ` (the last ${r.events.length} of ${r.events_total})` : '';
  return h('div', {},
    h('div', { className: 'toolbar' },
      h('span', { className: 'spacer' }),
      h('button', { type: 'button', className: 'quiet', id: 'search-reveal', onclick: toggle },
        revealed ? 'Mask phone numbers' : 'Reveal phone numbers')),
    h('section', { className: 'panel' },
      h('h2', {}, `Dead letters: ${r.dead_letters.length}${r.dead_letters_more ? '+' : ''}`),
      r.dead_letters.length === 0 ? h('p', { className: 'muted', id: 'search-no-dead' }, 'None.')
        : h('table', { className: 'entries', id: 'search-dead' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Seq'), h('th', {}, 'Stored'),
            h('th', {}, 'Reason'), h('th', {}, 'Event'), h('th', {}, 'Summary'))),
          h('tbody', {}, r.dead_letters.map((d) => h('tr', {},
            h('td', {}, h('a', { href: `#/dead-letters/${d.sequence}` }, String(d.sequence))),
            h('td', { className: 'nowrap' }, fmtTime(d.stored_at)),
            h('td', {}, d.reason), h('td', { className: 'mono' }, d.event_id || '—'),
            h('td', { className: 'summary' }, d.summary || '')))))),
    h('section', { className: 'panel' },
      h('h2', {}, `Events in the event stream: ${r.events_total}${shown}`),
      r.events.length === 0 ? h('p', { className: 'muted' }, 'None: the stream holds no event ' +
        'of this conversation (events older than the stream\'s max age are gone).')
        : h('table', { className: 'entries', id: 'search-events' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Seq'), h('th', {}, 'Stored'),
            h('th', {}, 'Event'), h('th', {}, 'Type'), h('th', {}, 'Participant'),
            h('th', {}, 'State'), h('th', {}, 'Fields'))),
          h('tbody', {}, r.events.map((e) => eventRow(e))))));
}

function eventRow(e) {
  const ev = e.event;
  const state = e.settled ? 'settled' : 'not settled yet';
  const fields = ev && ev.fields ? Object.keys(ev.fields).sort()
    .map((k) => h('span', { 'data-field': k }, `${k}=${ev.fields[k]}`)) : [];
  return h('tr', { 'data-event-seq': e.sequence },
    h('td', {}, String(e.sequence)),
    h('td', { className: 'nowrap' }, fmtTime(e.stored_at)),
    h('td', { className: 'mono' }, ev ? ev.id : 'undecodable',
      e.replay_of ? h('span', { className: 'tag' }, 'replay') : null),
    h('td', {}, ev ? ev.type : '—'),
    h('td', { className: 'mono' }, (ev && ev.participant_id) || '—'),
    h('td', {}, state),
    h('td', { className: 'mono small-text' }, fields));
}
