/**
 * A bounded walk over Avro binary data before avsc decodes it: avsc trusts the
 * item counts of arrays and maps, so a few bytes claiming 2^40 entries would
 * spin for hours; this says what is wrong in O(length of the buffer).
 * @module
 */
import type avro from 'avsc';

/**
 * Walks Avro binary data along its writer schema without building values, and
 * says what is wrong, if anything. avsc trusts the item counts of arrays and maps,
 * so a 13-byte message claiming 2^40 entries would spin for hours: here a count
 * larger than the bytes left is refused at once. O(length of the buffer).
 *
 * @example
 * ```ts
 * const why = checkAvro(type, buf);
 * if (why !== undefined) return { ok: false, reason: why };
 * ```
 */
export function checkAvro(type: avro.Type, buf: Buffer): string | undefined {
  let pos = 0;
  const long = (): number => {
    let n = 0;
    let shift = 1;
    for (let k = 0; k < 10; k++) {
      if (pos >= buf.length) throw new Error('truncated buffer');
      const b = buf[pos++]!;
      n += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      shift *= 128;
    }
    throw new Error('invalid varint');
  };
  const skip = (n: number): void => {
    if (n < 0 || pos + n > buf.length) throw new Error('truncated buffer');
    pos += n;
  };
  type Walkable = avro.Type & {
    readonly fields?: readonly { readonly type: avro.Type }[];
    readonly itemsType?: avro.Type; readonly valuesType?: avro.Type; readonly types?: readonly avro.Type[]; readonly size?: number;
  };
  const blocks = (each: () => void): void => {
    for (;;) {
      let count = long();
      if (count === 0) return;
      if (count < 0) {
        count = -count;
        long(); // block size in bytes
      }
      if (count > buf.length - pos) throw new Error(`a block claims ${count} items but only ${buf.length - pos} bytes are left`);
      for (let i = 0; i < count; i++) each();
    }
  };
  const walk = (t: Walkable): void => {
    const name = t.typeName;
    switch (name) {
      case 'null': return;
      case 'boolean': return skip(1);
      case 'int': case 'long': case 'enum': long(); return;
      case 'float': return skip(4);
      case 'double': return skip(8);
      case 'bytes': case 'string': return skip(long());
      case 'fixed': return skip(t.size ?? 0);
      case 'record': case 'error': for (const f of t.fields ?? []) walk(f.type as Walkable); return;
      case 'array': return blocks(() => walk(t.itemsType as Walkable));
      case 'map': return blocks(() => { skip(long()); walk(t.valuesType as Walkable); });
      default: {
        if (name.startsWith('union')) {
          const branch = t.types?.[long()];
          if (branch === undefined) throw new Error('union branch out of range');
          return walk(branch as Walkable);
        }
        return; // logical or unknown types: left to avsc
      }
    }
  };
  try {
    walk(type as Walkable);
    return pos === buf.length ? undefined : 'trailing data';
  } catch (e) {
    return (e as Error).message;
  }
}
