/**
 * `tool`: calls a typed tool whose input and output are validated with zod.
 * A bad argument or result fails the node with a ValidationError naming the field.
 * @module
 */
import type { z } from 'zod';
import { ValidationError } from '../src/errors.ts';
import type { ExecServices } from '../src/definition/types.ts';
import { toIssues } from '../src/errors.ts';
import type { NodeContext, NodeDef } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** A tool: a named function with validated input and output (the shape LLM tool calls need). */
export interface Tool<A, R> {
  readonly name: string;
  readonly description?: string;
  readonly input: z.ZodType<A>;
  readonly output?: z.ZodType<R>;
  /** Does the work with validated arguments; honour `signal` in long work. */
  readonly run: (args: A, options: { readonly signal: AbortSignal }) => R | PromiseLike<R>;
}

/**
 * Declares a tool. The identity function, there for type inference.
 *
 * @example
 * ```ts
 * const search = defineTool({
 *   name: 'search',
 *   input: z.object({ query: z.string() }),
 *   output: z.array(z.string()),
 *   run: async ({ query }) => [`doc about ${query}`],
 * });
 * ```
 */
export function defineTool<A, R>(tool: Tool<A, R>): Tool<A, R> {
  return tool;
}

/** Spec of a tool node. */
export interface ToolSpec<I, D, A, R> extends BaseSpec<R> {
  readonly tool: Tool<A, R>;
  /** Builds the tool's arguments; validated against `tool.input`. */
  readonly args: (ctx: NodeContext<I, D>) => unknown;
}

/**
 * Creates a tool node.
 *
 * @example
 * ```ts
 * const lookup = tool('lookup', { tool: search, args: ({ input }: NodeContext<{ q: string }>) => ({ query: input.q }) });
 * ```
 */
export function tool<Id extends string, I, D, A, R>(id: Id, spec: ToolSpec<I, D, A, R>): NodeDef & { readonly id: Id } {
  const t = spec.tool;
  const execute = async (ctx: NodeContext, services: ExecServices): Promise<R> => {
    const args = t.input.safeParse(spec.args(ctx as NodeContext<I, D>));
    if (!args.success) {
      throw new ValidationError('TOOL_INPUT_INVALID', `tool '${t.name}' got invalid arguments`, toIssues(args.error.issues));
    }
    let input = args.data;
    if (services.guardsTools) {
      // the guards may refuse the call or rewrite its arguments (redacted), which must still fit the tool's schema
      const v = await services.checkTool(ctx, { nodeId: ctx.nodeId, tool: t.name, args: input });
      if (v.action === 'deny') throw v.error;
      if (Object.hasOwn(v, 'args')) {
        const again = t.input.safeParse(v.args);
        if (!again.success) throw new ValidationError('TOOL_INPUT_INVALID', `the arguments a guard rewrote for tool '${t.name}' do not fit its input schema`, toIssues(again.error.issues, ['guard', v.rule ?? 'args']));
        input = again.data;
      }
    }
    const out = await t.run(input, { signal: ctx.signal });
    if (t.output === undefined) return out;
    const checked = t.output.safeParse(out);
    if (!checked.success) {
      throw new ValidationError('TOOL_OUTPUT_INVALID', `tool '${t.name}' returned an invalid result`, toIssues(checked.error.issues));
    }
    return checked.data;
  };
  return nodeDef(id, 'tool', spec, execute as NodeDef['execute']);
}
