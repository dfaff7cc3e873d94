/**
 * The codec of a Kafka transport from its wire options (`wireFormat`,
 * `schemaRegistry`) or the codec it was given, with the checks across those fields.
 * @module
 */
import { ValidationError } from '../../errors.ts';
import { createCodec, type Codec } from '../codec.ts';
import type { WireFormat } from '../framing.ts';
import { createSchemaRegistryClient, type SchemaRegistryOptions } from './registry.ts';

/**
 * The wire options of a transport.
 *
 * @example
 * ```ts
 * const wire: WireOptions = { wireFormat: 'schema-registry', schemaRegistry: { url: 'http://127.0.0.1:8081' } };
 * ```
 */
export interface WireOptions {
  readonly codec?: Codec | undefined;
  readonly wireFormat?: WireFormat | undefined;
  readonly schemaRegistry?: SchemaRegistryOptions | undefined;
}

/**
 * The given codec, or one built from `wireFormat` and `schemaRegistry` (the registry client loads nothing
 * until used). Throws a ValidationError (`OPTIONS_INVALID`) for `schema-registry` without a registry URL,
 * or a codec together with wire options (the codec decides those).
 *
 * @example
 * ```ts
 * const codec = wireCodec({ wireFormat: 'single-object' });
 * ```
 */
export function wireCodec(options: WireOptions): Codec {
  if (options.codec !== undefined && (options.wireFormat !== undefined || options.schemaRegistry !== undefined)) {
    throw new ValidationError('OPTIONS_INVALID', 'Kafka transport options are invalid', [{
      code: 'custom', path: ['options', options.wireFormat !== undefined ? 'wireFormat' : 'schemaRegistry'],
      message: 'give either a codec or wireFormat/schemaRegistry (the codec has its own: createCodec({ wireFormat, registry }))',
    }]);
  }
  if (options.codec !== undefined) return options.codec;
  if (options.wireFormat === 'schema-registry' && options.schemaRegistry === undefined) {
    throw new ValidationError('OPTIONS_INVALID', 'Kafka transport options are invalid', [{
      code: 'custom', path: ['options', 'schemaRegistry', 'url'], message: "wireFormat 'schema-registry' needs schemaRegistry.url",
    }]);
  }
  return createCodec({
    ...(options.wireFormat === undefined ? {} : { wireFormat: options.wireFormat }),
    ...(options.schemaRegistry === undefined ? {} : { registry: createSchemaRegistryClient(options.schemaRegistry) }),
  });
}
