/**
 * Live node progress for the CLI: one line per lifecycle event of a run (and of
 * its child runs), with the time since the run started.
 * @module
 */
import type { Observable, Subscription } from 'rxjs';
import type { EngineEvent } from '../runtime/events.ts';
import { isLoopEvent } from '../runtime/loop.ts';

const c = (code: number, s: string, color: boolean): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

/** A one-line preview of a node output. */
function preview(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? `→ ${v}` : `→ ${JSON.stringify(v)}`;
  } catch {
    s = '→ [unserializable]';
  }
  s = s.replace(/\s+/g, ' ');
  return s.length > 72 ? `${s.slice(0, 71)}…` : s;
}

/**
 * Prints progress lines of the run `runId` to `out` until unsubscribed.
 *
 * @example
 * ```ts
 * const sub = printProgress(engine.events$, 'run-1', process.stderr, true);
 * ```
 */
export function printProgress(events$: Observable<EngineEvent>, runId: string, out: NodeJS.WritableStream, color: boolean, tokens = true): Subscription {
  const mine = new Set([runId]);
  const startedAt = new Map<string, number>();
  // Live tokens: one streaming node owns the line until it ends; tokens of other
  // nodes wait in a buffer and are printed when their node takes the line over.
  let live: string | undefined;
  const waiting = new Map<string, string>();
  const endLive = (): void => {
    if (live !== undefined) out.write('\n');
    live = undefined;
  };
  const show = (key: string, nodeId: string, indent: string, text: string): void => {
    if (live === undefined) {
      live = key;
      out.write(`${indent}         ${c(35, `${nodeId} ▏`, color)}${(waiting.get(key) ?? '').replace(/\n/g, ' ')}`);
      waiting.delete(key);
    }
    if (live === key) out.write(text.replace(/\n/g, ' '));
    else waiting.set(key, (waiting.get(key) ?? '') + text);
  };
  return events$.subscribe((e) => {
    if (e.type === 'breaker.state') {
      endLive();
      out.write(`  ${c(33, '⚡', color)} circuit breaker of ${e.model} is ${e.state}\n`);
      return;
    }
    if (isLoopEvent(e)) return;
    if (e.parentRunId !== undefined && mine.has(e.parentRunId)) mine.add(e.runId);
    if (!mine.has(e.runId)) return;
    const indent = e.runId === runId ? '  ' : '      ';
    if (e.type === 'node.token') {
      if (!tokens) return;
      show(`${e.runId}/${e.nodeId}`, e.nodeId, indent, e.text);
      return;
    }
    if (e.type === 'node.restart') {
      if (live === `${e.runId}/${e.nodeId}`) endLive();
      waiting.delete(`${e.runId}/${e.nodeId}`);
      out.write(`${indent}         ${c(33, '↻', color)} ${e.nodeId} restarted: ${e.reason}\n`);
      return;
    }
    const key = 'nodeId' in e ? `${e.runId}/${e.nodeId}` : undefined;
    if (live !== undefined && (key === live || e.type === 'node.started' || e.type.startsWith('run.'))) endLive();
    if ((e.type === 'node.completed' || e.type === 'node.failed' || e.type === 'node.cancelled') && key !== undefined && waiting.has(key)) {
      show(key, e.nodeId, indent, '');
      endLive();
    }
    const t0 = startedAt.get(e.runId) ?? e.ts;
    const at = c(90, `${String(e.ts - t0).padStart(6)} ms`, color);
    switch (e.type) {
      case 'run.started':
        startedAt.set(e.runId, e.ts);
        if (e.runId !== runId) out.write(`${indent}${at} ${c(36, '▶', color)} child run ${e.topology}\n`);
        break;
      case 'node.started':
        out.write(`${indent}${at} ${c(36, '●', color)} ${e.nodeId}\n`);
        break;
      case 'node.completed':
        out.write(`${indent}${at} ${c(32, '✓', color)} ${e.nodeId} ${c(90, preview(e.output), color)}\n`);
        break;
      case 'node.resumed':
        out.write(`${indent}${at} ${c(32, '↺', color)} ${e.nodeId} (resumed)\n`);
        break;
      case 'node.skipped':
        out.write(`${indent}${at} ${c(90, '↷', color)} ${e.nodeId} skipped\n`);
        break;
      case 'node.failed':
        out.write(`${indent}${at} ${c(31, '✗', color)} ${e.nodeId}: ${e.error.message}${e.handled ? ' (handled by onError)' : ''}\n`);
        break;
      case 'node.cancelled':
        out.write(`${indent}${at} ${c(90, '⊘', color)} ${e.nodeId} cancelled: ${e.error.message}\n`);
        break;
      case 'node.retry':
        out.write(`${indent}${at} ${c(33, '↻', color)} ${e.nodeId} retry ${e.attempt} in ${e.delayMs} ms: ${e.error.message}\n`);
        break;
      case 'node.fallback':
        out.write(`${indent}${at} ${c(33, '⇢', color)} ${e.nodeId} falls back ${e.from} → ${e.to}: ${e.reason.message}\n`);
        break;
      case 'node.compensated':
        out.write(`${indent}${at} ${c(33, '↩', color)} ${e.nodeId} compensated\n`);
        break;
      case 'node.compensation_failed':
        out.write(`${indent}${at} ${c(31, '↩', color)} ${e.nodeId} compensation failed: ${e.error.message}\n`);
        break;
      default:
        break;
    }
  });
}
