/**
 * Corrections of the generated OpenAPI document where @fastify/swagger cannot say what the
 * routes do: it marks every request body required, while a route whose body schema admits
 * `null` (`.nullish()`, as `POST /v1/runs/:id/cancel`'s) takes a request with no body.
 * @module
 */

/**
 * The part of an OpenAPI 3.1 document these corrections read.
 *
 * @example
 * ```ts
 * const doc: OpenApiDoc = { paths: {}, components: { schemas: {} } };
 * ```
 */
export interface OpenApiDoc {
  paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> } }>>;
  components?: { schemas?: Record<string, unknown> };
}

/** The schema a `$ref` into `components.schemas` points at (one level), or the schema itself. */
const resolve = (doc: OpenApiDoc, schema: unknown): unknown => {
  const ref = (schema as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/components/schemas/')) return schema;
  return doc.components?.schemas?.[ref.slice('#/components/schemas/'.length)];
};

/** Whether a JSON schema admits `null`: `type: 'null'` (or a list with it), or an `anyOf`/`oneOf` branch that does. */
const admitsNull = (doc: OpenApiDoc, schema: unknown): boolean => {
  const s = resolve(doc, schema) as { type?: unknown; anyOf?: unknown[]; oneOf?: unknown[] } | undefined;
  if (s === undefined || s === null || typeof s !== 'object') return false;
  if (s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null'))) return true;
  return [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some((b) => admitsNull(doc, b));
};

/**
 * Marks a request body optional (`required: false`) where every content type's schema
 * admits `null`; returns the same document.
 *
 * @example
 * ```ts
 * transformObject: (doc) => optionalBodies(jsonSchemaTransformObject(doc) as OpenApiDoc),
 * ```
 */
export function optionalBodies(doc: OpenApiDoc): OpenApiDoc {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      const body = op?.requestBody;
      const media = Object.values(body?.content ?? {});
      if (body !== undefined && media.length > 0 && media.every((m) => admitsNull(doc, m.schema))) body.required = false;
    }
  }
  return doc;
}
