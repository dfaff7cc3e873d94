/**
 * The CLI's view of the environment: which providers have credentials, and what
 * the `default` model alias points at. Only the CLI reads the environment.
 * @module
 */
import { createAnthropicProvider } from '../providers/anthropic.ts';
import { createModels, type Models } from '../providers/models.ts';
import { createOpenAIProvider } from '../providers/openai.ts';
import { createSimProvider } from '../providers/sim.ts';
import type { Provider } from '../providers/types.ts';

/**
 * Builds the model catalogue from environment variables: `OPENAI_API_KEY` /
 * `OPENAI_BASE_URL` (any OpenAI-compatible server, e.g. Ollama) with `OPENAI_MODEL`,
 * `ANTHROPIC_API_KEY` with `ANTHROPIC_MODEL`, else the simulated provider.
 *
 * @example
 * ```ts
 * const { models, defaultModel } = modelsFromEnv(process.env);
 * ```
 */
export function modelsFromEnv(env: NodeJS.ProcessEnv): { models: Models; defaultModel: string; simulated: boolean } {
  const providers: Provider[] = [createSimProvider()];
  let defaultModel = 'sim:default';
  if (env['ANTHROPIC_API_KEY']) {
    providers.push(createAnthropicProvider({
      apiKey: env['ANTHROPIC_API_KEY'],
      ...(env['ANTHROPIC_BASE_URL'] ? { baseUrl: env['ANTHROPIC_BASE_URL'] } : {}),
    }));
    defaultModel = `anthropic:${env['ANTHROPIC_MODEL'] ?? 'claude-haiku-4-5'}`;
  }
  if (env['OPENAI_API_KEY'] || env['OPENAI_BASE_URL']) {
    providers.push(createOpenAIProvider({
      ...(env['OPENAI_API_KEY'] ? { apiKey: env['OPENAI_API_KEY'] } : {}),
      ...(env['OPENAI_BASE_URL'] ? { baseUrl: env['OPENAI_BASE_URL'] } : {}),
    }));
    defaultModel = `openai:${env['OPENAI_MODEL'] ?? 'gpt-4o-mini'}`;
  }
  return { models: createModels({ providers, aliases: { default: defaultModel } }), defaultModel, simulated: defaultModel.startsWith('sim:') };
}
