// A task list on @concord/client: every edit is recorded locally at once (IndexedDB), queued while offline,
// and synced with Concord in the background; when two devices edit the same task, the server's policy (or
// a person, in the review console) decides, and every device shows the decision.
// Data is shown with textContent and form values only, never parsed as HTML.

const TOKEN_KEY = 'concord.tasks.token';
const ORIGIN_KEY = 'concord.tasks.origin';
const IDS_KEY = 'concord.tasks.ids';
const TYPE = 'task';

const byId = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function log(text) {
  const list = byId('log');
  list.prepend(el('li', {}, `${new Date().toLocaleTimeString()} ${text}`));
  while (list.children.length > 20) list.lastElementChild.remove();
}

// The client's browser build (examples/build.mjs writes it; `pnpm start` runs that).
let sdk;
try {
  sdk = await import('./vendor/concord-client.js');
} catch (error) {
  byId('status').textContent =
    `The client library is missing (${error.message}): run "node examples/build.mjs", or start Concord with "pnpm start".`;
  throw error;
}
const { createClient, indexedDbStore } = sdk;

/** This browser's writer id, kept across reloads: the `origin` of its changes. */
const origin =
  localStorage.getItem(ORIGIN_KEY) ??
  (() => {
    const fresh = `browser-${crypto.randomUUID().slice(0, 8)}`;
    localStorage.setItem(ORIGIN_KEY, fresh);
    return fresh;
  })();

/** The tasks this browser knows of (the client answers one aggregate at a time). */
const ids = new Set(JSON.parse(localStorage.getItem(IDS_KEY) ?? '[]'));
const remember = (id) => {
  if (ids.has(id)) return;
  ids.add(id);
  localStorage.setItem(IDS_KEY, JSON.stringify([...ids]));
};

// The page is served at <concord>/examples/tasks/; the API is at <concord>/.
const client = createClient({
  url: new URL('../../', document.baseURI).href,
  store: indexedDbStore('concord-tasks'),
  origin,
  token: () => sessionStorage.getItem(TOKEN_KEY) || undefined,
  autosync: { backoffMaxMs: 5_000 },
});

const edit = (id, data) =>
  client
    .change({ aggregateType: TYPE, aggregateId: id, type: 'TaskUpdated', data })
    .catch((error) => log(error.message));

function taskItem(id) {
  const title = el('input', { className: 'title', type: 'text', maxLength: 500, ariaLabel: 'title' });
  title.addEventListener('change', () => void edit(id, { title: title.value }));
  title.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') title.blur();
  });
  const done = el('input', { className: 'done', type: 'checkbox', ariaLabel: 'done' });
  done.addEventListener('change', () => void edit(id, { status: done.checked ? 'done' : 'open' }));
  const addTag = el('input', { className: 'add-tag', type: 'text', placeholder: '+ tag', maxLength: 50 });
  addTag.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || addTag.value.trim() === '') return;
    const item = byId('tasks').querySelector(`li[data-task-id="${CSS.escape(id)}"]`);
    const tags = JSON.parse(item?.dataset.tags ?? '[]');
    const tag = addTag.value.trim();
    addTag.value = '';
    if (!tags.includes(tag)) void edit(id, { tags: [...tags, tag] });
  });
  return el(
    'li',
    { dataset: { taskId: id, tags: '[]' } },
    done,
    title,
    el('span', { className: 'badge' }),
    el('span', { className: 'tags' }, el('span', { className: 'tag-list' }), addTag),
  );
}

/** Shows a task's local state: the server's confirmed state with this browser's pending edits on top. */
async function render(id) {
  const [task, queue] = await Promise.all([client.get(TYPE, id), client.pending()]);
  if (task === undefined) return;
  remember(id);
  const list = byId('tasks');
  let item = list.querySelector(`li[data-task-id="${CSS.escape(id)}"]`);
  if (item === null) {
    item = taskItem(id);
    const after = [...list.children].find((other) => other.dataset.taskId > id);
    list.insertBefore(item, after ?? null);
  }
  const { fields } = task;
  const title = item.querySelector('.title');
  if (document.activeElement !== title) title.value = typeof fields.title === 'string' ? fields.title : '';
  item.querySelector('.done').checked = fields.status === 'done';
  item.classList.toggle('done', fields.status === 'done');
  const tags = Array.isArray(fields.tags) ? fields.tags.filter((t) => typeof t === 'string') : [];
  item.dataset.tags = JSON.stringify(tags);
  item
    .querySelector('.tag-list')
    .replaceChildren(...tags.map((tag) => el('span', { className: 'tag' }, tag)));
  item.dataset.version = String(task.version);
  const mine = queue.filter((change) => change.aggregateType === TYPE && change.aggregateId === id);
  const badge = mine.some((c) => c.status === 'pending_review')
    ? 'in review'
    : mine.some((c) => c.status === 'conflict')
      ? 'conflict: the server is deciding'
      : mine.length > 0
        ? `${mine.length} not synced`
        : '';
  item.querySelector('.badge').textContent = badge;
  item.dataset.state = badge === '' ? 'synced' : 'pending';
}

const renderAll = () => Promise.all([...ids].map((id) => render(id)));

function showStatus(status) {
  const node = byId('status');
  node.textContent = [
    status.online ? 'online' : 'offline',
    status.streaming ? 'live' : undefined,
    status.syncing ? 'syncing…' : undefined,
    `${status.pending} pending`,
  ]
    .filter(Boolean)
    .join(' · ');
  node.classList.toggle('offline', !status.online);
  node.dataset.online = String(status.online);
  node.dataset.pending = String(status.pending);
}

client.on('change', ({ aggregateType, aggregateId }) => {
  if (aggregateType === TYPE) void render(aggregateId);
});
client.on('status', showStatus);
client.on('error', (error) => log(`sync: ${error.message}`));
const says = {
  applied: 'saved',
  merged: 'merged with concurrent edits',
  conflict: 'conflicts with another edit: the server is deciding',
  pending_review: 'needs a person: sent for review (the provisional value shows meanwhile)',
  resolved: 'the server decided; this task shows its decision',
  rejected: 'refused by the server',
  superseded: 'superseded by a later edit',
};
for (const [outcome, text] of Object.entries(says)) {
  client.on(outcome, (notice) => {
    log(`${notice.aggregateId}: ${text}`);
    void render(notice.aggregateId);
  });
}

byId('new-task').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId('new-title');
  const id = `task-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 4)}`;
  remember(id);
  void client
    .change({
      aggregateType: TYPE,
      aggregateId: id,
      type: 'TaskCreated',
      data: { title: input.value, status: 'open', tags: [] },
    })
    .catch((error) => log(error.message));
  input.value = '';
});
byId('sync').addEventListener(
  'click',
  () => void client.sync().catch((error) => log(`sync: ${error.message}`)),
);
byId('token').value = sessionStorage.getItem(TOKEN_KEY) ?? '';
byId('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, byId('token').value.trim());
  void client.sync().catch((error) => log(`sync: ${error.message}`));
});
byId('origin').textContent = `this browser writes as ${origin}`;
// Back online: sync at once rather than at the end of the offline backoff.
window.addEventListener('online', () => void client.sync().catch(() => undefined));

await client.ready();
showStatus(client.status());
await renderAll();
client.start();
document.body.dataset.ready = 'true';
