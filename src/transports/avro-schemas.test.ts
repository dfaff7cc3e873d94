import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isOrchestratorError } from '../errors.ts';
import { AVRO_SCHEMA_TEXTS } from './avro-schemas.ts';
import { loadSchema, SCHEMA_FILES } from './codec.ts';

const dir = new URL('./schemas/', import.meta.url);

describe('the compiled Avro schema texts', () => {
  it('are the files in schemas/, byte for byte (after changing a file: node scripts/gen-schemas.mjs)', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.avsc')).sort();
    expect(Object.keys(AVRO_SCHEMA_TEXTS).sort()).toEqual(files);
    for (const f of files) expect(AVRO_SCHEMA_TEXTS[f], f).toBe(readFileSync(new URL(f, dir), 'utf8'));
  });

  it('loadSchema gives every file a codec names, as a fresh object; an unknown file is SCHEMA_UNKNOWN, named', () => {
    for (const f of Object.values(SCHEMA_FILES).flat()) expect(loadSchema(f)).toEqual(JSON.parse(readFileSync(new URL(f, dir), 'utf8')));
    expect(loadSchema('feedback.v1.avsc')).not.toBe(loadSchema('feedback.v1.avsc'));
    let err: unknown;
    try {
      loadSchema('feedback.v9.avsc');
    } catch (e) {
      err = e;
    }
    expect(isOrchestratorError(err) && err.code).toBe('SCHEMA_UNKNOWN');
    expect((err as Error).message).toContain("'feedback.v9.avsc'");
  });
});
