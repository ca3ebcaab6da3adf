// Concord's review console: conflicts pending review, read and decided through the resolver's review API
// (GET /v1/conflicts?status=pending_review, GET /v1/conflicts/:id, POST /v1/conflicts/:id/decision), kept
// current by the notifier's stream (GET /v1/stream, read with fetch so the token goes in a header).
// Whatever the API returns is shown with textContent and form values, never parsed as HTML.

const TOKEN_KEY = 'concord.console.token';
const USER_KEY = 'concord.console.user';
/** What the stream is asked for: the resolver's decisions, a review opening among them. */
const STREAM_TOPICS = 'concord.conflicts.resolved';
const POLL_MS = 5_000;

const byId = (id) => document.getElementById(id);
/** The API lives beside the console: the page is `<base>/console/`, the API `<base>/v1/…`. */
const apiUrl = (path) => new URL(`../${path}`, document.baseURI);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An element with properties and children; strings become text nodes, never markup. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

const token = () => sessionStorage.getItem(TOKEN_KEY) ?? '';
const authHeaders = () => (token() === '' ? {} : { authorization: `Bearer ${token()}` });

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(path, init = {}) {
  const response = await fetch(apiUrl(path), {
    ...init,
    headers: {
      accept: 'application/json',
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...authHeaders(),
    },
  });
  const body = await response.json().catch(() => undefined);
  if (response.ok) return body;
  const { code = `HTTP_${response.status}`, message = `HTTP ${response.status}` } = body?.error ?? {};
  throw new ApiError(response.status, code, message);
}

function showMessage(text) {
  const message = byId('message');
  message.textContent = text;
  message.hidden = text === '';
}

const explainError = (error) =>
  error instanceof ApiError && error.status === 401
    ? `${error.code}: ${error.message}. Enter a token with the events:read scope (and conflicts:decide to decide).`
    : error instanceof ApiError
      ? `${error.code}: ${error.message}`
      : `The API could not be reached: ${error.message}`;

const show = (value) => (value === undefined ? '(not set)' : JSON.stringify(value, null, 2));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

let pickNames = 0;

/** One field's row: the current value, the incoming one, the provisional one, and the person's pick. */
function fieldRow(view, field) {
  const { conflict, explanation } = view;
  const local = conflict.local[field];
  const remote = conflict.event.data[field];
  // What stands while the review is open: the provisional strategy's pick (applied when it changed
  // anything), else the current value.
  const choice = (explanation.choices ?? []).find((c) => c.field === field);
  const standing = choice === undefined ? local?.value : choice.value;
  const applied = view.review?.provisional === true && choice !== undefined && choice.source !== 'local';
  const name = `pick-${++pickNames}`;
  const preset =
    choice === undefined
      ? 'local'
      : choice.source === 'local' || choice.source === 'remote'
        ? choice.source
        : 'value';
  const radio = (value, label) =>
    el('label', {}, el('input', { type: 'radio', name, value, checked: value === preset }), ` ${label}`);
  const custom = el('textarea', {
    name: `${name}-value`,
    value: JSON.stringify(preset === 'local' ? remote : standing) ?? '',
    title: 'a JSON value',
  });
  return el(
    'tr',
    { dataset: { field } },
    el('th', { scope: 'row' }, field),
    el(
      'td',
      { className: 'local' },
      el('pre', {}, show(local?.value)),
      el(
        'span',
        { className: 'who' },
        `version ${local?.version ?? '?'}${local?.origin ? ` · ${local.origin}` : ''}`,
      ),
    ),
    el(
      'td',
      { className: 'remote' },
      el('pre', {}, show(remote)),
      el('span', { className: 'who' }, conflict.event.origin ? `from ${conflict.event.origin}` : 'incoming'),
    ),
    el(
      'td',
      { className: 'provisional' },
      el('pre', {}, show(standing)),
      el(
        'span',
        { className: 'who' },
        choice === undefined
          ? 'nothing applied: the current value stands'
          : `${applied ? 'applied' : 'the current value stands'}: ${choice.reason ?? choice.source}`,
      ),
    ),
    el(
      'td',
      { className: 'pick' },
      radio('local', 'keep current'),
      radio('remote', 'take incoming'),
      radio('value', 'this value:'),
      custom,
    ),
  );
}

/** What the person picked for each field, as the decision API takes it. */
function readPicks(form, fields) {
  const picks = {};
  for (const field of fields) {
    const row = [...form.querySelectorAll('tr[data-field]')].find((r) => r.dataset.field === field);
    const checked = row.querySelector('input[type=radio]:checked');
    if (checked.value !== 'value') {
      picks[field] = checked.value;
      continue;
    }
    const text = row.querySelector('textarea').value;
    try {
      picks[field] = { value: JSON.parse(text) };
    } catch {
      throw new Error(`${field}: "${text}" is not a JSON value (quote text: "like this")`);
    }
  }
  return picks;
}

function renderReview(view) {
  const { explanation, conflict } = view;
  const status = el('p', { className: 'result', role: 'status' });
  const note = el('input', { type: 'text', name: 'note', placeholder: 'note (optional)', maxLength: 2000 });
  const form = el(
    'form',
    {},
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ...['Field', 'Current', 'Incoming', 'Provisional', 'Decision'].map((h) =>
            el('th', { scope: 'col' }, h),
          ),
        ),
      ),
      el('tbody', {}, ...view.fields.map((field) => fieldRow(view, field))),
    ),
    el('div', { className: 'actions' }, note, el('button', { type: 'submit' }, 'Decide')),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void decide(view, form, note.value, status);
  });
  const rule = explanation.rule ?? `no rule (${explanation.via})`;
  const review = explanation.review ?? view.review ?? {};
  return el(
    'article',
    { className: 'review', dataset: { conflictId: view.id, updatedAt: view.updatedAt } },
    el('h2', {}, `${view.aggregateType} ${view.aggregateId}`),
    el(
      'p',
      { className: 'meta' },
      `conflict ${view.id} · ${conflict.event.type} against version ${conflict.currentVersion} · ` +
        `rule ${rule}${explanation.group ? ` (group ${explanation.group})` : ''} · ` +
        `due ${when(view.review?.dueAt)}${review.escalateTo ? `, then ${review.escalateTo}` : ''}`,
    ),
    el(
      'ul',
      { className: 'reasons' },
      ...[...(explanation.conditions ?? []), ...(explanation.reasons ?? [])].map((r) => el('li', {}, r)),
    ),
    form,
  );
}

async function decide(view, form, note, status) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const user = sessionStorage.getItem(USER_KEY) ?? '';
    const body = {
      fields: readPicks(form, view.fields),
      ...(note === '' ? {} : { note }),
      ...(user === '' ? {} : { userId: user }),
    };
    await request(`v1/conflicts/${encodeURIComponent(view.id)}/decision`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    status.textContent = 'Decided.';
    scheduleRefresh();
  } catch (error) {
    status.textContent =
      error instanceof ApiError || error instanceof TypeError ? explainError(error) : error.message;
    button.disabled = false;
  }
}

/** Re-reads the pending reviews; a card whose conflict did not change keeps what the person entered. */
async function refreshOnce() {
  const summaries = [];
  let after;
  do {
    const query = new URLSearchParams({ status: 'pending_review', limit: '100' });
    if (after) query.set('after', after);
    const page = await request(`v1/conflicts?${query}`);
    summaries.push(...page.conflicts);
    after = page.next ?? undefined;
  } while (after !== undefined && summaries.length < 500);
  const list = byId('reviews');
  const cards = new Map([...list.children].map((card) => [card.dataset.conflictId, card]));
  const wanted = new Set(summaries.map((s) => s.id));
  for (const [id, card] of cards) if (!wanted.has(id)) card.remove();
  for (const summary of summaries) {
    const card = cards.get(summary.id);
    if (card !== undefined && card.dataset.updatedAt === summary.updatedAt) {
      list.append(card);
      continue;
    }
    const view = await request(`v1/conflicts/${encodeURIComponent(summary.id)}`);
    if (view.status !== 'pending_review') continue;
    const fresh = renderReview(view);
    if (card === undefined) list.append(fresh);
    else card.replaceWith(fresh);
  }
  byId('empty').hidden = summaries.length > 0;
  showMessage('');
}

let refreshing;
let again = false;
function refresh() {
  if (refreshing !== undefined) {
    again = true;
    return refreshing;
  }
  refreshing = refreshOnce()
    .catch((error) => showMessage(explainError(error)))
    .finally(() => {
      refreshing = undefined;
      if (again) {
        again = false;
        void refresh();
      }
    });
  return refreshing;
}

let refreshTimer;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refresh(), 150);
}

/** Server-Sent Events from a byte stream (`field: value` lines; a blank line ends an event). */
async function* readSse(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = { id: undefined, event: 'message', data: [] };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (event.data.length > 0 || event.id !== undefined) yield event;
        event = { id: undefined, event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') event.data.push(text);
      else if (field === 'event') event.event = text;
      else if (field === 'id') event.id = text;
    }
  }
}

let streaming = false;
function setLive(text, live) {
  streaming = live;
  byId('live').textContent = text;
}

/**
 * Follows the stream, resuming after the last event id; while it is down the console polls. The token
 * goes in the Authorization header (a fetch stream, not EventSource, which cannot send one).
 */
async function follow(streamUrl, signal) {
  let lastEventId;
  let delay = 1_000;
  while (!signal.aborted) {
    try {
      const url = new URL(streamUrl, document.baseURI);
      url.searchParams.set('topics', STREAM_TOPICS);
      const response = await fetch(url, {
        signal,
        cache: 'no-store',
        headers: {
          accept: 'text/event-stream',
          ...authHeaders(),
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
      });
      if (!response.ok || response.body === null) throw new Error(`the stream answered ${response.status}`);
      setLive('Live: updates arrive as the resolver decides.', true);
      delay = 1_000;
      void refresh();
      for await (const event of readSse(response.body)) {
        if (event.id !== undefined) lastEventId = event.id;
        scheduleRefresh();
      }
      throw new Error('the stream ended');
    } catch (error) {
      if (signal.aborted) return;
      setLive(`Live updates down (${error.message}); checking every ${POLL_MS / 1000} s.`, false);
    }
    await sleep(delay / 2 + Math.random() * (delay / 2));
    delay = Math.min(delay * 2, 30_000);
  }
}

async function main() {
  const tokenInput = byId('token');
  const userInput = byId('user');
  tokenInput.value = token();
  userInput.value = sessionStorage.getItem(USER_KEY) ?? '';
  let config = { streamUrl: null };
  try {
    config = await request('console/config.json');
  } catch (error) {
    showMessage(explainError(error));
  }
  let stream;
  const restart = () => {
    stream?.abort();
    stream = new AbortController();
    if (typeof config.streamUrl === 'string') void follow(config.streamUrl, stream.signal);
    else setLive(`No stream configured; checking every ${POLL_MS / 1000} s.`, false);
    void refresh();
  };
  byId('settings').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
    sessionStorage.setItem(USER_KEY, userInput.value.trim());
    restart();
  });
  setInterval(() => {
    if (!streaming) void refresh();
  }, POLL_MS);
  restart();
}

void main();
