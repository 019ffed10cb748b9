// novactor's dashboard (docs/http-api.md, Dashboard). It signs in through Identity and then only
// uses the Compute and Placement APIs with its token, and /dashboard/events for what changes:
// instance rows are drawn from the API once per connection and then moved by the events alone.
// Every value from the cloud is put in the page as text (textContent), never as HTML.

import { $, el, faultText } from './kit.js';
import { readEvents } from './stream.js';
import { hostRows, providerRows } from './usage.js';

const COMPUTE = '/compute/v2.1';
const FEED_MAX = 200;
const POWER = { 0: 'nostate', 1: 'running', 3: 'paused', 4: 'shutdown', 6: 'crashed', 7: 'suspended' };

const state = { session: undefined, servers: new Map(), stream: undefined, loading: undefined, timers: {} };

function say(text) {
  const m = $('#message');
  m.textContent = text;
  m.hidden = !text;
  clearTimeout(state.timers.message);
  if (text) state.timers.message = setTimeout(() => say(''), 8000);
}

/** One API call with the token; JSON in and out; an error's message thrown. */
async function call(method, path, body) {
  if (!state.session) throw new Error('signed out');
  const headers = { 'x-auth-token': state.session.token };
  headers['openstack-api-version'] = path.startsWith('/placement') ? 'placement 1.39' : 'compute 2.79';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const json = text ? JSON.parse(text) : undefined;
  if (r.status === 401) signOut('Your token is no longer valid: sign in again.');
  if (!r.ok) throw new Error(faultText(json, r.status));
  return json;
}

// --- signing in -------------------------------------------------------------------------------

async function signIn(user, password, project) {
  const domain = { id: 'default' };
  const r = await fetch('/identity/v3/auth/tokens', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain, password } } },
        scope: { project: { name: project, domain } },
      },
    }),
  });
  const body = await r.json().catch(() => undefined);
  if (r.status !== 201) throw new Error(faultText(body, r.status));
  const roles = body.token.roles.map((role) => role.name);
  return { token: r.headers.get('x-subject-token'), user, project, admin: roles.includes('admin') };
}

function signOut(why) {
  state.stream?.abort();
  state.stream = undefined;
  state.session = undefined;
  sessionStorage.removeItem('novactor-session');
  clearInterval(state.timers.usage);
  $('#app').hidden = true;
  $('#sign-out').hidden = true;
  $('#sign-in').hidden = false;
  $('#who').textContent = '';
  $('#sign-in-error').textContent = why || '';
  setLive(false);
  // Nothing of this session stays in the page for the next one.
  clearTimeout(state.timers.soon);
  state.servers = new Map();
  state.loading = undefined;
  const parts = [
    '#hosts tbody',
    '#placement tbody',
    '#servers tbody',
    '#feed',
    '#boot [name=flavor]',
    '#boot [name=image]',
  ];
  for (const part of parts) $(part).replaceChildren();
  for (const note of ['#hosts-note', '#placement-note', '#server-count']) $(note).textContent = '';
}

function start(session) {
  state.session = session;
  sessionStorage.setItem('novactor-session', JSON.stringify(session));
  $('#sign-in').hidden = true;
  $('#app').hidden = false;
  $('#sign-out').hidden = false;
  $('#who').textContent = `${session.user} in ${session.project}${session.admin ? ' (admin)' : ''}`;
  void loadChoices();
  connect();
  // Heartbeats and usage change without an instance event: the hosts and placement are read again now and then.
  state.timers.usage = setInterval(() => void loadUsage(), 15000);
}

// --- the live stream ----------------------------------------------------------------------------

function setLive(on) {
  $('#live').textContent = on ? 'live' : 'offline';
  $('#live').className = `live ${on ? 'on' : 'off'}`;
}

/** Follows the event stream; when it ends or breaks, says so and connects again after 2 s. */
async function connect() {
  const ctrl = new AbortController();
  state.stream = ctrl;
  let ended;
  try {
    ended = await readEvents(state.session.token, ctrl.signal, onStream);
  } catch {
    // it broke: below, connect again
  }
  if (state.stream !== ctrl) return; // signed out, or another connection took over
  if (ended === 'unauthorized') return signOut('Your token is no longer valid: sign in again.');
  setLive(false);
  setTimeout(() => state.stream === ctrl && connect(), 2000);
}

function onStream(event, e) {
  if (event === 'ready') {
    setLive(true);
    void loadServers();
    void loadUsage();
  } else if (event === 'expired') signOut('Your token expired: sign in again.');
  else if (event === 'instance' || event === 'system') onEvent(e);
}

function onEvent(e) {
  feed(e);
  if (e.system) return usageSoon();
  // While the list is being read, events wait and are applied on top of it, in order.
  if (state.loading) return state.loading.push(e);
  apply(e);
}

/** An event's server fields onto its row (a new row if it is new to the page); a delete's end removes it. */
function apply(e) {
  if (!e.instanceId) return;
  const known = state.servers.get(e.instanceId);
  if (e.type === 'instance.delete.end' || e.server?.['OS-EXT-STS:vm_state'] === 'deleted') {
    state.servers.delete(e.instanceId);
    drawServers();
    return usageSoon();
  }
  if (!e.server) {
    if (known) known.busy = false; // a refusal: the row takes actions again
    return drawRow(known);
  }
  const server = { ...known, ...e.server, busy: false };
  state.servers.set(e.instanceId, server);
  drawServers();
  if (!known || e.type === 'instance.create.end') void addDetails(e.instanceId);
  if (e.final || e.type.endsWith('.end')) usageSoon();
}

/** What only the API has (addresses, image): read once for a row an event made. */
async function addDetails(id) {
  const session = state.session;
  const { server } = await call('GET', `${COMPUTE}/servers/${id}`).catch(() => ({}));
  const row = state.session === session && state.servers.get(id);
  if (!server || !row) return;
  row.addresses = server.addresses;
  row.image = server.image;
  drawRow(row);
}

function feed(e) {
  const who = e.system
    ? `${e.system.name} ${e.system.detail}`
    : e.name || state.servers.get(e.instanceId)?.name || e.instanceId;
  const task = e.server?.['OS-EXT-STS:task_state'];
  const status = e.server ? `${e.server.status}${task ? ` (${task})` : ''}` : undefined;
  const item = el(
    'li',
    { 'data-type': e.type },
    el('span', { class: 'time' }, new Date(e.ts).toLocaleTimeString()),
    ' ',
    el('b', {}, e.type),
    ` ${who}`,
    status ? ` → ${status}` : '',
    e.fault ? el('span', { class: 'fault' }, ` ${e.fault}`) : undefined,
  );
  const list = $('#feed');
  list.prepend(item);
  while (list.children.length > FEED_MAX) list.lastChild.remove();
}

// --- instances ----------------------------------------------------------------------------------

async function loadServers() {
  const session = state.session;
  state.loading = [];
  try {
    const query = state.session.admin ? '?all_tenants=1' : '';
    const { servers } = await call('GET', `${COMPUTE}/servers/detail${query}`);
    state.servers = new Map(servers.map((s) => [s.id, s]));
  } catch (err) {
    if (state.session === session) say(`Instances: ${err.message}`);
  }
  const waiting = state.loading;
  state.loading = undefined;
  if (state.session !== session) return; // signed out meanwhile
  drawServers();
  for (const e of waiting) apply(e);
}

/** The actions a server in `status` takes, as [label, what to send, style]. */
function actionsFor(s) {
  const a = [];
  const { status } = s;
  if (status === 'SHUTOFF') a.push(['Start', { 'os-start': null }]);
  if (status === 'ACTIVE') a.push(['Stop', { 'os-stop': null }], ['Reboot', { reboot: { type: 'SOFT' } }]);
  if (status === 'VERIFY_RESIZE') a.push(['Confirm', { confirmResize: null }], ['Revert', { revertResize: null }]);
  if (state.session?.admin && (status === 'ACTIVE' || status === 'SHUTOFF'))
    a.push(['Migrate', { migrate: null }, 'secondary']);
  a.push(['Delete', 'delete', 'danger']);
  return a;
}

async function act(s, label, what) {
  if (what === 'delete' && !confirm(`Delete ${s.name}?`)) return;
  s.busy = true;
  drawRow(s);
  try {
    if (what === 'delete') await call('DELETE', `${COMPUTE}/servers/${s.id}`);
    else await call('POST', `${COMPUTE}/servers/${s.id}/action`, what);
  } catch (err) {
    s.busy = false;
    drawRow(s);
    say(`${label} ${s.name}: ${err.message}`);
  }
}

function addressOf(s) {
  for (const list of Object.values(s.addresses || {})) if (list[0]) return list[0].addr;
  return '';
}

function rowOf(s) {
  const status = String(s.status || 'UNKNOWN');
  const buttons = actionsFor(s).map(([label, what, style]) =>
    el('button', { type: 'button', class: style || '', disabled: !!s.busy, onclick: () => act(s, label, what) }, label),
  );
  return el(
    'tr',
    { 'data-id': s.id, 'data-name': s.name || '' },
    el('td', { class: 'name' }, s.name || s.id),
    el('td', { class: 'status' }, el('span', { class: `pill ${status.toLowerCase()}` }, status)),
    el('td', { class: 'task' }, s['OS-EXT-STS:task_state'] || ''),
    el('td', { class: 'power' }, POWER[s['OS-EXT-STS:power_state']] || ''),
    el('td', { class: 'host' }, s['OS-EXT-SRV-ATTR:host'] || ''),
    el('td', {}, s.flavor ? s.flavor.original_name || s.flavor.id || '' : ''),
    el('td', {}, s.tenant_id || ''),
    el('td', {}, addressOf(s)),
    el('td', { class: 'actions' }, ...buttons),
  );
}

function drawRow(s) {
  if (!s) return;
  const old = document.querySelector(`#servers tr[data-id="${CSS.escape(s.id)}"]`);
  if (old) old.replaceWith(rowOf(s));
  else drawServers();
}

function drawServers() {
  const rows = [...state.servers.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  $('#servers tbody').replaceChildren(...rows.map(rowOf));
  $('#server-count').textContent = `(${rows.length})`;
}

// --- hosts and placement ------------------------------------------------------------------------

/** Reads the hosts and placement again soon, once for a burst of events. */
function usageSoon() {
  clearTimeout(state.timers.soon);
  state.timers.soon = setTimeout(() => void loadUsage(), 400);
}

async function loadUsage() {
  const session = state.session;
  if (!session) return;
  if (!session.admin) {
    $('#hosts-note').textContent = 'Hosts are shown to admins (Nova’s os-hypervisors policy).';
    $('#placement-note').textContent = 'Placement is shown to admins (Placement’s policy).';
    return;
  }
  const [hosts, providers] = await Promise.allSettled([hostRows(call), providerRows(call)]);
  if (state.session !== session) return; // signed out meanwhile: nothing of that session is drawn
  drawTable('#hosts', hosts, 'No compute hosts.');
  drawTable('#placement', providers, 'No resource providers.');
}

/** Rows read (or why not) into a table and the note below it. */
function drawTable(table, result, none) {
  const note = $(`${table}-note`);
  if (result.status === 'rejected') return void (note.textContent = result.reason.message);
  $(`${table} tbody`).replaceChildren(...result.value);
  note.textContent = result.value.length ? '' : none;
}

// --- booting ------------------------------------------------------------------------------------

async function loadChoices() {
  try {
    const [{ flavors }, { images }] = await Promise.all([
      call('GET', `${COMPUTE}/flavors/detail`),
      call('GET', '/image/v2/images'),
    ]);
    const option = (value, text) => el('option', { value }, text);
    $('#boot [name=flavor]').replaceChildren(
      ...flavors.map((f) => option(f.id, `${f.name} (${f.vcpus} vCPU, ${f.ram} MiB, ${f.disk} GiB)`)),
    );
    $('#boot [name=image]').replaceChildren(...images.map((i) => option(i.id, i.name || i.id)));
  } catch (err) {
    say(`Flavors and images: ${err.message}`);
  }
}

async function boot(form) {
  const f = new FormData(form);
  const button = form.querySelector('button');
  button.disabled = true;
  $('#boot-error').textContent = '';
  try {
    const server = { name: f.get('name'), flavorRef: f.get('flavor'), imageRef: f.get('image'), networks: 'auto' };
    await call('POST', `${COMPUTE}/servers`, { server });
    form.elements.name.value = '';
  } catch (err) {
    $('#boot-error').textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// --- wiring -------------------------------------------------------------------------------------

$('#sign-in').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $('#sign-in-error').textContent = '';
  try {
    start(await signIn(f.get('user'), f.get('password'), f.get('project')));
  } catch (err) {
    $('#sign-in-error').textContent = err.message;
  }
});
$('#boot').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void boot(ev.target);
});
$('#sign-out').addEventListener('click', () => {
  const token = state.session?.token;
  const headers = { 'x-auth-token': token, 'x-subject-token': token };
  if (token) void fetch('/identity/v3/auth/tokens', { method: 'DELETE', headers }).catch(() => undefined);
  signOut();
});

// A reload keeps the tab's session (sessionStorage: this tab only, gone when it closes).
const saved = sessionStorage.getItem('novactor-session');
if (saved) start(JSON.parse(saved));
