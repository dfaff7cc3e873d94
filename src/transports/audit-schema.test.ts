// Audit schema evolution: v1 and v2 audit data read with the v3 reader (the chain fields and user
// read as null), and a v3 record with its chain round-trips.
import { describe, expect, it } from 'vitest';
import { Codec, createCodec, SCHEMA_FILES } from './codec.ts';
import type { AuditMessage } from './messages.ts';

const v2: AuditMessage = { ts: 1_700_000_000_005, actor: 'ops@example.com', action: 'cancel', runId: 'run-1', details: '{"why":"test"}', tenant: 'acme', requestId: 'req-1', topology: 'echo' };
const chain = { user: null, stream: null, seq: null, prevHash: null, hash: null };

describe('audit v3 schema', () => {
  const codec = createCodec();

  it('reads v1 data: tenant, requestId, topology, user and the chain are null', () => {
    const old = new Codec({ ...SCHEMA_FILES, audit: ['audit.v1.avsc'] });
    const { tenant: _t, requestId: _r, topology: _p, ...v1 } = v2;
    const e = old.encode('audit', v1);
    expect(codec.decode('audit', e.value, e.headers)).toEqual({ ok: true, value: { ...v1, tenant: null, requestId: null, topology: null, ...chain } });
  });

  it('reads v2 data: user and the chain are null', () => {
    const old = new Codec({ ...SCHEMA_FILES, audit: ['audit.v1.avsc', 'audit.v2.avsc'] });
    const e = old.encode('audit', v2);
    expect(codec.decode('audit', e.value, e.headers)).toEqual({ ok: true, value: { ...v2, ...chain } });
  });

  it('writes and reads the chain fields (seq as a long)', () => {
    const v3: AuditMessage = { ...v2, user: 'ana', stream: 'acme', seq: 2 ** 40, prevHash: '0'.repeat(64), hash: 'f'.repeat(64) };
    const e = codec.encode('audit', v3);
    expect(codec.decode('audit', e.value, e.headers)).toEqual({ ok: true, value: v3 });
    const partial = codec.encode('audit', v2); // a writer that omits the v3 fields
    expect(codec.decode('audit', partial.value, partial.headers)).toEqual({ ok: true, value: { ...v2, ...chain } });
  });
});
