// A topology's graph: laid out by dagre, drawn in SVG (nodes as labelled boxes, edges as paths),
// with a list of the same nodes beside it (status in words, and the tokens of llm nodes as they stream).
// A node's state is its `data-status` attribute (pending, running, completed, failed, skipped,
// cancelled, waiting); the stylesheet colours by it.
import dagre from '/assets/dagre.js';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_H = 46;

const el = (name, attrs = {}, text) => {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

const html = (name, attrs = {}, text) => {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

/** The gate of an edge (`always`, `success`, `error`, `stream`, `branch`) and, for a branch, its names. */
const gateOf = (edge) => {
  const gate = edge.gate;
  const kind = typeof gate === 'string' ? gate : gate?.kind ?? 'always';
  const branches = edge.branches ?? (typeof gate === 'object' ? gate?.branches : undefined) ?? [];
  return { kind, label: kind === 'branch' ? [...branches].join(', ') : '' };
};

/** What an llm node's output says: its text (an llm node answers `{ text, ... }`), else the output as JSON. */
const textOf = (output) => (output === undefined ? '' : typeof output === 'string' ? output : typeof output?.text === 'string' ? output.text : JSON.stringify(output));

const STATUS_WORD = {
  pending: 'not started', running: 'running', completed: 'completed', failed: 'failed',
  skipped: 'skipped', cancelled: 'cancelled', waiting: 'waiting for a signal',
};

/**
 * Draws `topology` (a TopologyView) into `svgHost` and its node list into `listHost`.
 * Returns the graph's controls: set a node's status, stream tokens into it, colour from a fold.
 */
export function drawGraph(topology, svgHost, listHost, { onSelect } = {}) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 56, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of topology.nodes) g.setNode(n.id, { width: Math.max(96, 16 + 8.2 * Math.max(n.id.length, n.kind.length + 2)), height: NODE_H });
  topology.edges.forEach((e, i) => {
    if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to, gateOf(e), `e${i}`);
  });
  dagre.layout(g);
  const { width = 200, height = 100 } = g.graph();

  const svg = el('svg', { viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, role: 'group', 'aria-label': `Graph of ${topology.name}: ${topology.nodes.length} nodes` });
  const marker = el('marker', { id: `arrow-${svgHost.id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  const defs = el('defs');
  defs.append(marker);
  svg.append(defs);
  const edges = el('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const ref of g.edges()) {
    const e = g.edge(ref);
    const pts = e.points ?? [];
    if (pts.length === 0) continue;
    let d = `M${pts[0].x},${pts[0].y}`;
    for (let i = 1; i < pts.length; i++) d += ` L${pts[i].x},${pts[i].y}`;
    const path = el('path', { d, class: `edge gate-${e.kind}`, 'marker-end': `url(#arrow-${svgHost.id})`, 'data-from': ref.v, 'data-to': ref.w, 'data-gate': e.kind });
    path.append(el('title', {}, `${ref.v} → ${ref.w} (${e.kind}${e.label ? `: ${e.label}` : ''})`));
    edges.append(path);
    if (e.label) {
      const mid = pts[Math.floor(pts.length / 2)];
      edges.append(el('text', { x: mid.x, y: mid.y - 5, class: 'edge-label', 'text-anchor': 'middle' }, e.label));
    }
  }
  svg.append(edges);

  const boxes = new Map();
  const items = new Map();
  const tokens = new Map();
  const nodesG = el('g', { class: 'nodes' });
  for (const n of topology.nodes) {
    const p = g.node(n.id);
    const box = el('g', {
      class: 'node', 'data-node': n.id, 'data-kind': n.kind, 'data-status': 'pending', tabindex: 0, role: 'button',
      transform: `translate(${p.x - p.width / 2},${p.y - p.height / 2})`, 'aria-label': `${n.id} (${n.kind}): ${STATUS_WORD.pending}`,
    });
    box.append(el('rect', { width: p.width, height: p.height, rx: 7, ry: 7 }));
    box.append(el('text', { x: 10, y: 19, class: 'label' }, n.id));
    box.append(el('text', { x: 10, y: 36, class: 'kind' }, n.kind));
    const select = () => onSelect?.(n.id);
    box.addEventListener('click', select);
    box.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(); }
    });
    nodesG.append(box);
    boxes.set(n.id, box);

    const li = html('li', { 'data-node': n.id, 'data-kind': n.kind, 'data-status': 'pending', id: `${svgHost.id}-node-${n.id}` });
    const head = html('div', { class: 'node-head' });
    head.append(html('strong', {}, n.id), html('span', { class: 'kind' }, n.kind), html('span', { class: 'badge' }, STATUS_WORD.pending));
    li.append(head);
    if (n.kind === 'llm') {
      const pre = html('pre', { class: 'tokens', 'data-tokens': n.id, 'aria-label': `Tokens of ${n.id}` });
      li.append(pre);
      tokens.set(n.id, pre);
    }
    items.set(n.id, li);
  }
  svg.append(nodesG);
  svgHost.replaceChildren(svg);
  listHost.replaceChildren(...items.values());

  const setStatus = (id, status) => {
    const box = boxes.get(id);
    const li = items.get(id);
    if (box === undefined || li === undefined) return;
    const word = STATUS_WORD[status] ?? status;
    box.setAttribute('data-status', status);
    box.setAttribute('aria-label', `${id} (${box.getAttribute('data-kind')}): ${word}`);
    li.setAttribute('data-status', status);
    li.querySelector('.badge').textContent = word;
  };
  return {
    setStatus,
    status: (id) => boxes.get(id)?.getAttribute('data-status'),
    /** Every node back to pending, token panels emptied. */
    reset() {
      for (const id of boxes.keys()) setStatus(id, 'pending');
      for (const pre of tokens.values()) pre.textContent = '';
    },
    appendToken(id, text) {
      const pre = tokens.get(id);
      if (pre === undefined) return;
      pre.append(text);
      pre.scrollTop = pre.scrollHeight;
    },
    clearTokens(id) {
      const pre = tokens.get(id);
      if (pre !== undefined) pre.textContent = '';
    },
    /**
     * Colours from a fold's `nodes` (`{ id: { status, output } }`); nodes absent are pending. A waiting
     * run's open wait node is waiting. An llm node's panel shows its output once it has one (tokens are
     * not recorded; the output they made is).
     */
    applyFold(nodes, runStatus) {
      for (const [id, box] of boxes) {
        const n = nodes?.[id];
        let status = n?.status ?? 'pending';
        if (status === 'running' && runStatus === 'waiting' && box.getAttribute('data-kind') === 'wait') status = 'waiting';
        setStatus(id, status);
        const pre = tokens.get(id);
        if (pre !== undefined) pre.textContent = textOf(n?.output);
      }
    },
    focusNode(id) {
      items.get(id)?.scrollIntoView({ block: 'nearest' });
    },
  };
}
