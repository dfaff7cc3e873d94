/**
 * Loads one system's adapter on demand, so a child process only imports the
 * system it measures.
 * @module
 */
import type { SystemId } from '../lib/types.ts';
import type { SystemAdapter } from './types.ts';

const loaders: Record<SystemId, () => Promise<{ system: SystemAdapter }>> = {
  'llm-orchestrator': () => import('./llm-orchestrator.ts'),
  rxjs: () => import('./rxjs.ts'),
  promise: () => import('./promise.ts'),
  langgraph: () => import('./langgraph.ts'),
  mastra: () => import('./mastra.ts'),
  kafkajs: () => import('./kafkajs.ts'),
  platformatic: () => import('./platformatic.ts'),
  dbos: () => import('./dbos.ts'),
};

export async function loadSystem(id: SystemId): Promise<SystemAdapter> {
  return (await loaders[id]()).system;
}
