// Schema evolution of the identity fields: token batches and lifecycle events v2 (requestId, attempt)
// and audit v2 (tenant, requestId, topology) read v1 data with their defaults.
import { describe, expect, it } from 'vitest';
import { Codec, createCodec, SCHEMA_FILES } from './codec.ts';
import { checkMessage } from './checks.ts';
import { isParkedResult, isRunEndMarker, RUN_ABANDONED, RUN_ENDED, type AuditMessage, type LifecycleEventMessage, type RunResultMessage, type SignalMessage, type TokenBatchMessage } from './messages.ts';
import { topicNames } from './transport.ts';

const codec = createCodec();
const v1 = new Codec({ ...SCHEMA_FILES, token: ['token-batch.v1.avsc'], event: ['lifecycle-event.v1.avsc'], audit: ['audit.v1.avsc'] });

describe('identity fields (v2 schemas)', () => {
  it('a v1 token batch reads with requestId null and attempt 1', () => {
    const old: TokenBatchMessage = { runId: 'r', nodeId: 'gen', firstIndex: 0, tokens: ['a', ' b'], restart: null, ts: 5 };
    const e = v1.encode('token', old);
    expect(v1.fingerprint('token')).not.toBe(codec.fingerprint('token'));
    expect(codec.decode('token', e.value, e.headers)).toEqual({ ok: true, value: { ...old, requestId: null, attempt: 1 } });
  });

  it('a v1 lifecycle event reads with requestId null and attempt 1', () => {
    const old: LifecycleEventMessage = { runId: 'r', topology: 't', type: 'run.started', seq: 1, ts: 2, nodeId: null, parentRunId: null, data: '{}' };
    const e = v1.encode('event', old);
    expect(codec.decode('event', e.value, e.headers)).toEqual({ ok: true, value: { ...old, requestId: null, attempt: 1 } });
  });

  it('a v1 audit record reads with tenant, requestId and topology null (and the v3 user and chain fields)', () => {
    const old: AuditMessage = { ts: 1, actor: 'ops', action: 'cancel', runId: 'r', details: '{"why":"x"}' };
    const e = v1.encode('audit', old);
    expect(codec.decode('audit', e.value, e.headers)).toEqual({ ok: true, value: { ...old, tenant: null, requestId: null, topology: null, user: null, stream: null, seq: null, prevHash: null, hash: null } });
  });

  it('v2 carries the identity fields; omitted ones are written as their defaults', () => {
    const full: TokenBatchMessage = { runId: 'r', nodeId: '', firstIndex: 0, tokens: [], restart: RUN_ABANDONED, ts: 3, requestId: 'req', attempt: 2 };
    const e = codec.encode('token', full);
    expect(codec.decode('token', e.value, e.headers)).toEqual({ ok: true, value: full });
    const bare = codec.encode('token', { runId: 'r', nodeId: 'n', firstIndex: 0, tokens: [], restart: null, ts: 3 });
    expect(codec.decode('token', bare.value, bare.headers)).toMatchObject({ ok: true, value: { requestId: null, attempt: 1 } });
  });

  it('isRunEndMarker: nodeId "" with ended/abandoned only', () => {
    const base = { runId: 'r', firstIndex: 0, tokens: [], ts: 1 };
    expect(isRunEndMarker({ ...base, nodeId: '', restart: RUN_ENDED })).toBe(true);
    expect(isRunEndMarker({ ...base, nodeId: '', restart: RUN_ABANDONED })).toBe(true);
    expect(isRunEndMarker({ ...base, nodeId: 'gen', restart: RUN_ENDED })).toBe(false);
    expect(isRunEndMarker({ ...base, nodeId: '', restart: null })).toBe(false);
  });
});

describe('signals', () => {
  const signal: SignalMessage = { signalId: 's1', runId: 'r1', name: 'approval', payload: '{"approved":true}', ts: 7 };

  it('round-trips with requestId and tenant null when omitted; the topic is <prefix>.signals', () => {
    const e = codec.encode('signal', signal);
    expect(codec.decode('signal', e.value, e.headers)).toEqual({ ok: true, value: { ...signal, requestId: null, tenant: null } });
    const full = { ...signal, requestId: 'req-1', tenant: 'acme' };
    const f = codec.encode('signal', full);
    expect(codec.decode('signal', f.value, f.headers)).toEqual({ ok: true, value: full });
    expect(topicNames('prod').signal).toBe('prod.signals');
  });

  it('a payload that is not JSON text, or an empty run id, is refused (the transport dead-letters it) naming the field', () => {
    expect(checkMessage('signal', signal)).toBeUndefined();
    expect(checkMessage('signal', { ...signal, payload: '{nope' })).toMatch(/payload: must be JSON text/);
    expect(checkMessage('signal', { ...signal, runId: '' })).toMatch(/runId:/);
  });

  it('isParkedResult: a failed result with code RUN_PARKED is the interim answer of a parked run', () => {
    const base: RunResultMessage = {
      requestId: 'q', runId: 'q', topology: 't', status: 'failed', output: null, outputs: '{}', error: null,
      usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 }, worker: 'w', startedAt: 0, endedAt: 0,
    };
    expect(isParkedResult({ ...base, error: JSON.stringify({ name: 'WaitError', code: 'RUN_PARKED', message: 'parked', retriable: false }) })).toBe(true);
    expect(isParkedResult({ ...base, error: JSON.stringify({ code: 'NODE_FAILED' }) })).toBe(false);
    expect(isParkedResult({ ...base, error: 'not json' })).toBe(false);
    expect(isParkedResult({ ...base, status: 'completed', output: '"x"' })).toBe(false);
  });
});
