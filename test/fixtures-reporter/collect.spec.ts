// Fixture (see vitest.config.ts here): a module that throws while it is collected.
import { it } from 'vitest';

it('is never collected', () => undefined);
throw new Error('collection fails on purpose');
