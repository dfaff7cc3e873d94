import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.ts';
import { describeRunStore } from '../../test/stores/conformance.ts';
import { createMemoryStore } from './memory.ts';

describeRunStore('memory', async () => createMemoryStore());

describe('createMemoryStore', () => {
  it('rejects unknown options naming the field', () => {
    try {
      createMemoryStore({ path: 'x' } as never);
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options']);
    }
  });

  it('keeps copies: changing what was passed in or returned does not change the store', async () => {
    const store = createMemoryStore();
    const input = { q: 'a' };
    await store.createRun({ runId: 'r', topology: 't', version: 'v', input, createdAt: 1, owner: 'o', leaseMs: 1 });
    input.q = 'changed';
    const got = await store.getRun('r');
    (got?.input as { q: string }).q = 'changed too';
    expect((await store.getRun('r'))?.input).toEqual({ q: 'a' });
  });
});
