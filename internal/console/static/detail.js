// One dead letter: the event, the error with its Genesys correlation id, the attempts
// from the event to the dead letter, and replay or delete. Phone numbers are masked by
// the API unless the operator reveals them.
import { call } from './api.js';
import { h, replace, fmtTime, fmtDuration, since } from './dom.js';
import { reasonText } from './reasons.js';
import { perform } from './actions.js';

export function detailPage(view, seqText) {
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq) || seq < 1) {
    replace(view, h('p', { className: 'error' }, 'A dead letter is named by a positive number.'));
    return undefined;
  }
  let reveal = false;
  const load = async () => {
    try {
      const d = await call('GET', `dead-letters/${seq}${reveal ? '?reveal=true' : ''}`);
      replace(view, render(d, reveal, () => {
        reveal = !reveal;
        load();
      }));
    } catch (e) {
      replace(view, h('h1', {}, `Dead letter ${seq}`),
        h('p', { className: 'error', role: 'alert' }, e.status === 404
          ? 'No such dead letter: it was replayed or deleted.' : `Could not load it: ${e.message}`),
        h('p', {}, h('a', { href: '#/dead-letters' }, 'Back to the list')));
    }
  };
  load();
  return undefined;
}

function render(d, revealed, toggle) {
  const dl = d.dead_letter || null;
  const ev = dl && dl.event;
  const act = (verb) => async () => {
    const res = await perform(verb, { sequences: [d.sequence] }, `dead letter ${d.sequence}`);
    if (res) location.hash = '#/dead-letters';
  };
  return h('article', { className: 'detail', 'data-detail': d.sequence },
    h('div', { className: 'title' },
      h('h1', {}, `Dead letter ${d.sequence}`),
      h('span', { className: 'badge reason', id: 'detail-reason' }, d.reason)),
    h('p', { className: 'muted' }, reasonText(d.reason)),
    h('div', { className: 'toolbar' },
      h('button', { type: 'button', id: 'replay-one', disabled: !ev, onclick: act('replay') },
        'Replay'),
      h('button', { type: 'button', id: 'delete-one', className: 'danger',
        onclick: act('delete') }, 'Delete'),
      h('span', { className: 'spacer' }),
      ev && h('button', { type: 'button', id: 'reveal', className: 'quiet', onclick: toggle },
        revealed ? 'Mask phone numbers' : 'Reveal phone numbers'),
      h('a', { href: '#/dead-letters', className: 'button quiet' }, 'Back to the list')),
    d.undecodable && h('p', { className: 'error' },
      'This entry cannot be read by this version: it can only be deleted.'),
    h('div', { className: 'columns' },
      h('section', { className: 'panel' }, h('h2', {}, 'Error'), errorTable(d, dl)),
      h('section', { className: 'panel' }, h('h2', {}, 'Attempts'), timeline(d, dl, ev))),
    ev && h('section', { className: 'panel' }, h('h2', {}, 'Event'), eventTable(d, ev),
      fieldsTable(ev.fields || {}, revealed),
      revealed && ev.raw !== undefined && h('details', {},
        h('summary', {}, 'Request body as received'),
        h('pre', { className: 'raw' }, JSON.stringify(ev.raw, null, 2)))));
}

// kv makes a two-column table of the pairs whose value is set.
function kv(rows) {
  return h('table', { className: 'kv' }, h('tbody', {}, rows
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v, id]) => h('tr', {}, h('th', {}, k),
      h('td', id ? { id } : {}, v instanceof Node ? v : String(v))))));
}

function errorTable(d, dl) {
  const e = (dl && dl.error) || {};
  let corr = '';
  if (d.correlation_id) {
    corr = h('span', {}, h('code', { id: 'correlation-id' }, d.correlation_id), ' ',
      h('button', { type: 'button', className: 'small quiet', onclick: (ev) => {
        if (navigator.clipboard) {
          navigator.clipboard.writeText(d.correlation_id).then(() => {
            ev.target.textContent = 'Copied';
          }, () => {});
        }
      } }, 'Copy'));
  }
  return kv([
    ['Summary', d.summary],
    ['Class', d.class],
    ['Genesys status', d.status || ''],
    ['Genesys code', d.code],
    ['Correlation id', corr || 'none: Genesys did not answer', 'correlation'],
    ['Message', e.message, 'error-message'],
  ]);
}

// timeline lists the steps from the event to its dead letter, with the time between them.
function timeline(d, dl, ev) {
  const steps = [];
  if (ev) {
    steps.push(['Event happened', ev.event_time]);
    steps.push(['Received by the ingest', ev.received_at]);
  }
  if (dl) {
    steps.push(['First attempt', dl.first_attempt]);
    steps.push([`Last attempt (${d.attempts} in all)`, dl.last_attempt]);
  }
  steps.push(['Dead-lettered' + (dl && dl.worker ? ` by ${dl.worker}` : ''), d.stored_at]);
  let prev = null;
  const items = steps.filter(([, t]) => t && !t.startsWith('0001-')).map(([label, t]) => {
    const gap = prev ? `+${fmtDuration(since(prev, t))}` : '';
    prev = t;
    return h('li', {}, h('span', { className: 'when' }, fmtTime(t)),
      h('span', { className: 'what' }, label), h('span', { className: 'gap muted' }, gap));
  });
  const span = dl ? since(dl.first_attempt, dl.last_attempt) : NaN;
  return h('div', {},
    h('p', { id: 'attempts' }, `${d.attempts} ${d.attempts === 1 ? 'attempt' : 'attempts'}` +
      (Number.isFinite(span) && d.attempts > 1 ? ` over ${fmtDuration(span)}` : '')),
    h('ol', { className: 'timeline' }, items));
}

function eventTable(d, ev) {
  const conv = h('a', { href: `#/search?conversation_id=${encodeURIComponent(ev.conversation_id)}` },
    ev.conversation_id);
  return kv([
    ['Event id', ev.id, 'event-id'],
    ['Type', ev.type],
    ['Conversation', conv],
    ['Participant', ev.participant_id],
    ['Envelope', ev.source],
    ['Stream sequence', d.event_sequence],
  ]);
}

function fieldsTable(fields, revealed) {
  const keys = Object.keys(fields).sort();
  if (keys.length === 0) return h('p', { className: 'muted' }, 'The event carries no fields.');
  return h('div', {},
    h('h3', {}, 'Fields', h('span', { className: 'muted' },
      revealed ? ' (phone numbers shown)' : ' (phone numbers masked)')),
    h('table', { className: 'kv fields', id: 'fields' }, h('tbody', {}, keys.map((k) =>
      h('tr', {}, h('th', {}, k), h('td', { className: 'mono', 'data-field': k }, fields[k]))))));
}
