// Replay and delete: one entry, a selection or a filter, always behind a confirmation
// that says how many entries it will touch, then with progress until the server is done.
import { call } from './api.js';

// Sequences go to the server this many at a time, so progress moves and no request runs
// into the server's time budget.
const chunkSize = 20;

const el = (id) => document.getElementById(id);

const words = {
  replay: { title: 'Replay', doing: 'Replaying', button: 'Replay', done: 'replayed' },
  delete: { title: 'Delete', doing: 'Deleting', button: 'Delete', done: 'deleted' },
};

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// perform asks for confirmation, then replays or deletes. target is {sequences: [...]}
// or {filter: {...}}; what names the entries for people. It resolves to the summed
// result, or null when the operator cancelled.
export function perform(verb, target, what) {
  const w = words[verb];
  const dlg = el('confirm');
  const ok = el('confirm-ok');
  const cancel = el('confirm-cancel');
  const bar = el('confirm-progress');
  const status = el('confirm-status');
  el('confirm-title').textContent = `${w.title} ${what}?`;
  el('confirm-text').textContent = verb === 'replay'
    ? 'Each event is published to the event stream again and its dead letter removed ' +
      'once the stream has it.'
    : 'The entries are removed from the dead-letter stream for good; their events are ' +
      'not applied.';
  bar.hidden = true;
  bar.value = 0;
  status.textContent = '';
  ok.textContent = w.button;
  ok.className = verb === 'delete' ? 'danger' : '';
  ok.disabled = false;
  cancel.textContent = 'Cancel';
  cancel.disabled = false;
  dlg.showModal();

  return new Promise((resolve) => {
    let state = 'asking';
    let stop = false;
    let total = target.sequences ? target.sequences.length : null;
    let result = null;
    let attempted = false;
    const finish = () => {
      ok.onclick = null;
      cancel.onclick = null;
      dlg.oncancel = null;
      dlg.close();
      // After a failure part of the work may be done: the caller refreshes all the same.
      resolve(attempted ? result || {} : null);
    };
    dlg.oncancel = (e) => {
      if (state === 'running') e.preventDefault();
    };
    cancel.onclick = () => {
      if (state === 'running') {
        stop = true;
        cancel.disabled = true;
        status.textContent = 'Stopping after the current step…';
        return;
      }
      finish();
    };
    ok.onclick = async () => {
      if (state === 'done') {
        finish();
        return;
      }
      state = 'running';
      attempted = true;
      ok.disabled = true;
      cancel.textContent = 'Stop';
      bar.hidden = false;
      bar.max = Math.max(total || 1, 1);
      const progress = (res) => {
        const done = verb === 'replay' ? res.replayed + (res.undecodable || 0) : res.matched;
        bar.value = Math.min(done, bar.max);
        status.textContent = `${w.doing}… ${done}${total !== null ? ' of ' + total : ''}`;
      };
      try {
        result = target.sequences
          ? await runSequences(verb, target.sequences, progress, () => stop)
          : await runFilter(verb, target.filter, progress, () => stop);
        status.textContent = summary(verb, result) + (stop ? ' Stopped before the end.' : '');
      } catch (err) {
        status.textContent = `Failed: ${err.message}`;
        status.className = 'error';
      }
      bar.value = bar.max;
      state = 'done';
      ok.textContent = 'Close';
      ok.className = '';
      ok.disabled = false;
      cancel.hidden = true;
    };
    if (target.filter) {
      // Count first, with a dry run, so the confirmation says how many.
      ok.disabled = true;
      status.textContent = 'Counting the entries that match…';
      const until = capUntil(target.filter.until);
      target.filter = { ...target.filter, until };
      send(verb, { ...target.filter, dry_run: true }).then((res) => {
        total = res.matched;
        const atLeast = res.complete ? '' : 'at least ';
        status.textContent = total === 0 ? 'No entry matches.'
          : `${atLeast}${plural(total, 'entry matches', 'entries match')}.`;
        ok.disabled = total === 0;
      }, (err) => {
        status.textContent = `Could not count: ${err.message}`;
      });
    } else {
      status.textContent = `${plural(total, 'entry', 'entries')} selected.`;
    }
    cancel.hidden = false;
  });
}

// capUntil bounds a filter to the entries stored before now, so entries that arrive
// while the operation runs are left for the operator to look at.
function capUntil(until) {
  const now = new Date().toISOString();
  return until && until < now ? until : now;
}

function send(verb, body) {
  return verb === 'replay'
    ? call('POST', 'dead-letters/replay', body)
    : call('POST', 'dead-letters/delete', body);
}

function add(sum, res) {
  for (const k of ['matched', 'replayed', 'duplicates', 'deleted', 'undecodable']) {
    sum[k] = (sum[k] || 0) + (res[k] || 0);
  }
  sum.not_found = (sum.not_found || []).concat(res.not_found || []);
  return sum;
}

async function runSequences(verb, sequences, progress, stopped) {
  const sum = add({}, {});
  const sorted = [...sequences].sort((a, b) => a - b);
  if (verb === 'delete' && sorted.length === 1) {
    try {
      await call('DELETE', `dead-letters/${sorted[0]}`);
      add(sum, { matched: 1, deleted: 1 });
    } catch (err) {
      if (err.status !== 404) throw err;
      add(sum, { not_found: [sorted[0]] });
    }
    progress(sum);
    return sum;
  }
  for (let i = 0; i < sorted.length && !stopped(); i += chunkSize) {
    let rest = sorted.slice(i, i + chunkSize);
    while (rest.length > 0) {
      const res = await send(verb, { sequences: rest });
      add(sum, res);
      progress(sum);
      if (res.complete) break;
      // The server stopped at its time budget: it went through the sequences in order.
      rest = rest.slice(res.matched + (res.not_found || []).length);
    }
  }
  return sum;
}

async function runFilter(verb, filter, progress, stopped) {
  const sum = add({}, {});
  for (;;) {
    const res = await send(verb, filter);
    add(sum, res);
    progress(sum);
    if (res.complete || stopped() || res.matched === 0) return sum;
  }
}

// summary says what an operation did, in words.
export function summary(verb, r) {
  const parts = [];
  if (verb === 'replay') {
    parts.push(`${plural(r.replayed, 'event', 'events')} replayed`);
    if (r.duplicates) {
      parts.push(`${r.duplicates} of them already in the event stream from an earlier replay`);
    }
    if (r.undecodable) parts.push(`${r.undecodable} undecodable left in place`);
  } else {
    parts.push(`${plural(r.deleted, 'entry', 'entries')} deleted`);
  }
  if (r.not_found && r.not_found.length) {
    parts.push(`${r.not_found.length} already gone`);
  }
  return parts.join(', ') + '.';
}
