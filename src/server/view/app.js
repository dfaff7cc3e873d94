// The live view: pick a topology, run it, watch its nodes light up and its tokens stream in; a runs
// table; a run page (`#/runs/<id>`) with its event timeline and a slider over its recorded states.
// Plain modules, no framework, no build step. Everything it shows comes from the /v1 API.
import { api, ApiError, followRun, getKey, seg, setKey } from '/assets/api.js';
import { drawGraph } from '/assets/graph.js';

const $ = (id) => document.getElementById(id);
const topologies = new Map();
const home = { graph: undefined, topology: undefined, abort: undefined };
const runPage = { graph: undefined, abort: undefined, runId: undefined, events: [], asked: 0, timer: undefined };
let runsTimer;

const notice = (message) => {
  $('notice').textContent = message ?? '';
  $('notice').hidden = !message;
};
const failed = (e) => notice(e instanceof ApiError ? `${e.message} (${e.code})` : String(e?.message ?? e));

// ---------------------------------------------------------------- formatting
const duration = (ms) => (ms === undefined ? '–' : ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);
const tokensOf = (u) => (u ? `${u.inputTokens ?? 0} in / ${u.outputTokens ?? 0} out` : '–');
const cost = (u) => (u && typeof u.costUsd === 'number' ? `$${u.costUsd.toFixed(u.costUsd < 0.01 ? 6 : 4)}` : '–');
const time = (ts) => (ts === undefined ? '–' : new Date(ts).toLocaleTimeString());
const ENDED = new Set(['completed', 'failed', 'cancelled']);

// ---------------------------------------------------------------- engine events to node states
const NODE_STATUS = {
  'node.started': 'running', 'node.completed': 'completed', 'node.resumed': 'completed', 'node.failed': 'failed',
  'node.skipped': 'skipped', 'node.cancelled': 'cancelled',
};

/** Applies one stream message to a graph; answers the run's status when the message changes it. */
function applyEvent(graph, type, data) {
  const nodeId = data?.nodeId;
  if (type === 'node.token') {
    if (graph.status(nodeId) === 'pending') graph.setStatus(nodeId, 'running');
    graph.appendToken(nodeId, data.text ?? '');
  } else if (type === 'node.restart') graph.clearTokens(nodeId);
  else if (NODE_STATUS[type] && nodeId) graph.setStatus(nodeId, NODE_STATUS[type]);
  else if (type === 'run.parked' || type === 'run.waiting') {
    if (nodeId) graph.setStatus(nodeId, 'waiting');
    return 'waiting';
  } else if (type === 'run.started' || type === 'run.recovered' || type === 'run.signalled') return 'running';
  else if (type === 'run.completed' || type === 'run.failed' || type === 'run.cancelled') return type.slice(4);
  return undefined;
}

// ---------------------------------------------------------------- key
async function start() {
  notice('');
  if (!getKey()) {
    $('who').textContent = 'Enter an API key to begin.';
    return;
  }
  try {
    const me = await api('/v1/me');
    $('who').textContent = `Tenant ${me.tenant} · key ${me.keyId}${me.name ? ` (${me.name})` : ''}`;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      $('who').textContent = 'This key is unknown or revoked.';
      return failed(e);
    }
    $('who').textContent = 'Key set.';
  }
  await Promise.all([loadTopologies(), loadRuns()]);
  await route();
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setKey($('api-key').value.trim());
  $('api-key').value = '';
  start();
});
$('forget-key').addEventListener('click', () => {
  setKey('');
  home.abort?.abort();
  runPage.abort?.abort();
  $('topology').replaceChildren();
  $('runs').tBodies[0].replaceChildren();
  start();
});

// ---------------------------------------------------------------- topologies and runs
async function loadTopologies() {
  try {
    const { topologies: list } = await api('/v1/topologies');
    topologies.clear();
    for (const t of list) topologies.set(t.name, t);
    $('topology').replaceChildren(...list.map((t) => new Option(t.name, t.name)));
    if (list.length === 0) notice('This key has a role on no topology.');
    else showTopology(list[0].name);
  } catch (e) {
    failed(e);
  }
}

function showTopology(name) {
  const t = topologies.get(name);
  if (!t) return;
  home.abort?.abort();
  home.topology = t;
  $('topology').value = name;
  $('topology-about').textContent = `${t.description ?? ''} (version ${String(t.version).slice(0, 12)}, ${t.nodes.length} nodes)`.trim();
  $('run-input').value = sessionStorage.getItem(`llmo.input.${name}`) ?? '{}';
  $('graph-title').textContent = name;
  $('run-status').textContent = '';
  home.graph = drawGraph(t, $('graph'), $('nodes'), { onSelect: (id) => home.graph.focusNode(id) });
}
$('topology').addEventListener('change', () => showTopology($('topology').value));

async function loadRuns() {
  clearTimeout(runsTimer);
  try {
    const { runs } = await api('/v1/runs?limit=25');
    $('runs').tBodies[0].replaceChildren(...runs.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.run = r.runId;
      tr.dataset.status = r.status;
      const link = Object.assign(document.createElement('a'), { href: `#/runs/${seg(r.runId)}`, textContent: r.runId.length > 14 ? `${r.runId.slice(0, 12)}…` : r.runId, title: r.runId });
      const cells = [link, r.topology, r.status, time(r.createdAt), duration(r.durationMs), tokensOf(r.usage), cost(r.usage), r.variant ?? '–'];
      for (const c of cells) {
        const td = document.createElement('td');
        td.append(c);
        tr.append(td);
      }
      tr.cells[2].className = 'badge-cell';
      return tr;
    }));
    // Runs still going: look again shortly (this page's own runs refresh the table when they end).
    if (runs.some((r) => !ENDED.has(r.status) && r.status !== 'waiting')) runsTimer = setTimeout(loadRuns, 5000);
  } catch (e) {
    failed(e);
  }
}
$('refresh-runs').addEventListener('click', loadRuns);

// ---------------------------------------------------------------- start and watch a run
$('run-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const t = home.topology;
  if (!t) return;
  let input;
  try {
    input = JSON.parse($('run-input').value);
    $('run-input').removeAttribute('aria-invalid');
  } catch (e) {
    $('run-input').setAttribute('aria-invalid', 'true');
    return notice(`The input is not valid JSON: ${e.message}`);
  }
  sessionStorage.setItem(`llmo.input.${t.name}`, $('run-input').value);
  notice('');
  $('run-button').disabled = true;
  try {
    const started = await api('/v1/runs', { method: 'POST', body: { topology: t.name, input } });
    watch(started.runId);
    loadRuns();
  } catch (e) {
    failed(e);
  } finally {
    $('run-button').disabled = false;
  }
});

async function watch(runId) {
  home.abort?.abort();
  const abort = (home.abort = new AbortController());
  const graph = home.graph;
  graph.reset();
  const status = $('run-status');
  status.replaceChildren('Run ', Object.assign(document.createElement('a'), { href: `#/runs/${seg(runId)}`, textContent: runId }), ': starting');
  const say = (s) => { status.lastChild.textContent = `: ${s}`; };
  const began = performance.now();
  try {
    const end = await followRun(runId, {
      signal: abort.signal,
      onEvent(type, data) {
        const s = applyEvent(graph, type, data);
        if (s === 'failed' || s === 'cancelled') say(`${s}: ${data?.error?.message ?? ''}`);
        else if (s) say(s);
      },
    });
    say(`${end.status ?? 'ended'} after ${duration(performance.now() - began)}`);
  } catch (e) {
    if (!abort.signal.aborted) { say('stream lost'); failed(e); }
  }
  if (!abort.signal.aborted) loadRuns();
}

// ---------------------------------------------------------------- the run page
async function showRun(runId) {
  runPage.abort?.abort();
  const abort = (runPage.abort = new AbortController());
  runPage.runId = runId;
  $('run-id').textContent = runId;
  $('run-facts').replaceChildren();
  $('timeline').replaceChildren();
  $('run-graph').replaceChildren();
  $('run-nodes').replaceChildren();
  $('seq-status').textContent = 'Loading…';
  try {
    const [run, { events }] = await Promise.all([api(`/v1/runs/${seg(runId)}`), api(`/v1/runs/${seg(runId)}/events`)]);
    if (abort.signal.aborted) return;
    facts(run);
    const t = topologies.get(run.topology) ?? (await api(`/v1/topologies/${seg(run.topology)}`).catch(() => undefined));
    runPage.graph = t ? drawGraph(t, $('run-graph'), $('run-nodes'), { onSelect: (id) => runPage.graph.focusNode(id) }) : undefined;
    if (!t) $('run-graph').textContent = `The topology ${run.topology} is not served here: the timeline only.`;
    runPage.events = [];
    for (const e of events) addTimeline(e);
    setMax(run.lastSeq);
    runPage.graph?.applyFold(run.nodes, run.status);
    $('seq-status').textContent = `Latest state: run ${run.status}`;
    if (!ENDED.has(run.status)) follow(runId, abort);
  } catch (e) {
    $('seq-status').textContent = '';
    failed(e);
  }
}

function facts(run) {
  const rows = [['Status', run.status], ['Topology', `${run.topology} (${String(run.version).slice(0, 12)})`], ['Started', time(run.createdAt)],
    ['Duration', duration(run.durationMs)], ['Tokens', tokensOf(run.usage)], ['Cost', cost(run.usage)]];
  if (run.variant) rows.push(['Variant', run.variant]);
  if (run.forkOf) rows.push(['Fork of', `${run.forkOf.runId} at ${run.forkOf.nodeId}`]);
  if (run.error) rows.push(['Error', `${run.error.code}: ${run.error.message}`]);
  $('run-facts').replaceChildren(...rows.flatMap(([k, v]) => [Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v })]));
}

function addTimeline(e) {
  runPage.events[e.seq] = e;
  const li = document.createElement('li');
  li.dataset.seq = e.seq;
  li.dataset.type = e.type;
  if (e.nodeId) li.dataset.node = e.nodeId;
  const t0 = runPage.events[0]?.ts ?? e.ts;
  const b = Object.assign(document.createElement('button'), { type: 'button', textContent: `#${e.seq} ${e.type}${e.nodeId ? ` · ${e.nodeId}` : ''}` });
  b.append(Object.assign(document.createElement('span'), { className: 'at', textContent: `+${duration(e.ts - t0)}` }));
  b.addEventListener('click', () => { $('seq').value = String(e.seq); travel(); $('seq').focus(); });
  li.append(b);
  $('timeline').append(li);
}

function setMax(lastSeq) {
  const slider = $('seq');
  const atEnd = slider.value === slider.max;
  slider.max = String(Math.max(0, lastSeq));
  if (atEnd) slider.value = slider.max;
  mark(Number(slider.value));
}

function mark(seq) {
  $('seq-out').textContent = String(seq);
  for (const li of $('timeline').children) li.toggleAttribute('aria-current', Number(li.dataset.seq) === seq);
}

/** Colours the graph as the run was after event `seq` (the fold of its log up to there). */
async function travel() {
  const seq = Number($('seq').value);
  mark(seq);
  const asked = ++runPage.asked;
  try {
    const s = await api(`/v1/runs/${seg(runPage.runId)}/state?seq=${seq}`);
    if (asked !== runPage.asked) return; // a later move answered first
    runPage.graph?.applyFold(s.nodes, s.status);
    const e = runPage.events[seq];
    $('seq-status').textContent = `After event ${seq}${e ? ` (${e.type}${e.nodeId ? ` of ${e.nodeId}` : ''})` : ''}: run ${s.status}`;
  } catch (e) {
    failed(e);
  }
}
$('seq').addEventListener('input', () => {
  clearTimeout(runPage.timer);
  mark(Number($('seq').value));
  runPage.timer = setTimeout(travel, 60);
});

/** A run still going: its new events join the timeline, and the graph follows while the slider is at the end. */
async function follow(runId, abort) {
  const last = () => runPage.events.length - 1;
  try {
    await followRun(runId, {
      signal: abort.signal,
      onEvent(type, data, id) {
        if (id !== undefined && !String(id).includes(':') && typeof data?.seq === 'number' && data.seq > last()) {
          addTimeline(data);
          const follows = $('seq').value === $('seq').max;
          setMax(data.seq);
          if (follows && runPage.graph) applyEvent(runPage.graph, type, data);
        } else if (type === 'node.token' && runPage.graph && $('seq').value === $('seq').max) applyEvent(runPage.graph, type, data);
      },
    });
    if (!abort.signal.aborted) {
      const run = await api(`/v1/runs/${seg(runId)}`);
      facts(run);
      $('seq-status').textContent = `Latest state: run ${run.status}`;
      loadRuns();
    }
  } catch (e) {
    if (!abort.signal.aborted) failed(e);
  }
}

// ---------------------------------------------------------------- routing
async function route() {
  const m = /^#\/runs\/(.+)$/.exec(location.hash);
  $('home').hidden = !!m;
  $('run-page').hidden = !m;
  if (m) {
    await showRun(decodeURIComponent(m[1]));
    $('run-h').focus();
  } else runPage.abort?.abort();
}
addEventListener('hashchange', () => { if (getKey()) route(); });

// `llmo serve` prints `<url>/#key=<key>` for its first key: take it once, then drop it from the address bar
// (the fragment never reaches the server, and the key is kept for this tab only).
const fromUrl = /^#key=(llmo_[A-Za-z0-9_-]+)$/.exec(location.hash);
if (fromUrl) {
  setKey(fromUrl[1]);
  history.replaceState(null, '', location.pathname + location.search);
}
start();
