/**
 * `llmo policy show|apply|rollback`: the policies of a deployment on its compacted
 * policies topic (`<prefix>.policies`, keyed by target), which every worker with a
 * loop reads from the beginning on start and then follows live.
 *
 * - `show [topology]` reads the topic to its end, replays it as the workers' loops do
 *   (policy-log.ts) and prints the current version of each target (or of one) as JSON;
 *   `--history` prints every version still in the topic.
 * - `apply <file>` reads a JSON or YAML file `{ target, document, version?, policyId?, reason? }`,
 *   validates `document` with the loop's policy schema (and, with `--topology <file>`,
 *   against that topology: node ids, llm nodes, variants), and publishes it as version
 *   current + 1 (or `version`, which must be above the current one).
 * - `rollback <topology> [--to N]` publishes the document of version N (default: the one
 *   before the current) as a new version, reason `rollback to vN`. Versions that compaction
 *   removed from the topic cannot be rolled back to (the command says so).
 *
 * Invalid input is reported naming the field (exit 2); Kafka problems as the other
 * Kafka commands (69 unreachable, 77 refused).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { isValidationError, toIssues, type Issue } from '../../errors.ts';
import { parsePolicyRules } from '../../governance/policy/parse.ts';
import { auditAdmin } from '../../governance/audit/admin.ts';
import { openCliAudit } from '../audit-flag.ts';
import { GOVERNANCE_POLICY_TARGET, type PolicyUpdateMessage } from '../../transports/messages.ts';
import { checkPolicyAgainst, parsePolicyDocument, policyToMessage } from '../../loops/policy.ts';
import type { PolicyVersion } from '../../loops/types.ts';
import type { KafkaTransport, KafkaTransportOptions } from '../../transports/kafka/index.ts';
import { connectKafka } from '../connect.ts';
import { EXIT } from '../exit.ts';
import { fail, reportIssues, type Io } from '../io.ts';
import type { KafkaFlags } from '../kafka-config.ts';
import { kafkaProblem, type OpenedKafka } from '../kafka.ts';
import { loadForCli } from '../load.ts';
import { readPolicyTopic, replayPolicies, type PolicyLog } from '../policy-log.ts';

/**
 * Options of `llmo policy`, as commander parses them.
 *
 * @example
 * ```ts
 * const opts: PolicyCommandOptions = { brokers: '127.0.0.1:9092', to: 3 };
 * ```
 */
export interface PolicyCommandOptions extends KafkaFlags {
  /** `show`: every version still in the topic, not only the current ones. */
  readonly history?: boolean | undefined;
  /** `apply`: check the document against this topology file too. */
  readonly topology?: string | undefined;
  readonly ops?: string | undefined;
  /** `rollback`: the version whose document becomes current again. */
  readonly to?: number | undefined;
  /** `rollback`: the reason published (default `rollback to vN`). */
  readonly reason?: string | undefined;
}

/**
 * The file `llmo policy apply` reads.
 *
 * @example
 * ```ts
 * PolicyFileSchema.parse({ target: 'qa', document: { nodes: { answer: { model: 'sim:large' } } }, reason: 'better answers' });
 * ```
 */
export const PolicyFileSchema = z.strictObject({
  /** The topology the policy applies to. */
  target: z.string().min(1),
  /** What the version sets (see `PolicyDocument`); validated with the loop's schema. */
  document: z.record(z.string(), z.unknown()),
  /** Default: the current version + 1. */
  version: z.number().int().positive().optional(),
  /** Default `llmo-cli`. */
  policyId: z.string().min(1).optional(),
  reason: z.string().optional(),
});

/**
 * Records a published policy as an admin action on the audit topic (stream `llmo-cli:<user>/global`,
 * continuing its chain). The policy is published already: a failure here is an error line, not a failed command.
 */
async function recordAdmin(transport: KafkaTransport, io: Io, action: string, details: Record<string, string | number | null>): Promise<void> {
  const env = io.env ?? process.env;
  const actor = `llmo-cli:${env['USER'] ?? env['USERNAME'] ?? 'unknown'}`;
  const problem = (m: string): void => {
    io.err.write(`llmo: ${m}\n`);
  };
  try {
    const audit = await openCliAudit('kafka', { actor, transport, onError: problem });
    try {
      await auditAdmin(audit.log, { actor, action, details });
    } finally {
      await audit.close();
    }
  } catch (e) {
    problem(`audit: the ${action} record could not be written to ${transport.topics.audit}: ${(e as Error).message}`);
  }
}

/** A governance update as `show` and `apply` print it (its document parsed back). */
const governanceJson = (u: PolicyUpdateMessage): Record<string, unknown> => ({
  target: u.target, version: u.version, policyId: u.policyId, reason: u.reason, ts: u.ts, document: JSON.parse(u.params['document'] ?? 'null') as unknown,
});

const json = (p: PolicyVersion): Record<string, unknown> => ({ target: p.target, version: p.version, policyId: p.policyId, reason: p.reason, ts: p.ts, document: p.document });

/** Reads and checks an apply file: the policy to publish (version not yet numbered), or the issues. */
async function readPolicyFile(file: string): Promise<{ ok: true; value: Omit<z.output<typeof PolicyFileSchema>, 'document'> & { document: PolicyVersion['document'] } } | { ok: false; issues: Issue[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ code: 'file_not_found', path: [], message: `cannot read ${file}: ${(e as Error).message}` }] };
  }
  let raw: unknown;
  try {
    raw = ['.yaml', '.yml'].includes(extname(file).toLowerCase()) ? parseYaml(text) as unknown : JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ code: 'invalid_syntax', path: [], message: `${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'JSON or YAML'}: ${(e as Error).message}` }] };
  }
  const shape = PolicyFileSchema.safeParse(raw);
  if (!shape.success) return { ok: false, issues: toIssues(shape.error.issues) };
  if (shape.data.target === GOVERNANCE_POLICY_TARGET) {
    // governance rules (policy guards of `llmo worker --governance`): checked with their own schema
    try {
      parsePolicyRules(shape.data.document);
    } catch (e) {
      if (isValidationError(e)) return { ok: false, issues: e.issues.map((i) => ({ ...i, path: ['document', ...i.path] })) };
      throw e;
    }
    return { ok: true, value: { ...shape.data, document: shape.data.document as PolicyVersion['document'] } };
  }
  const doc = parsePolicyDocument(shape.data.document);
  if (!doc.ok) return { ok: false, issues: doc.issues.map((i) => ({ ...i, path: ['document', ...i.path] })) };
  return { ok: true, value: { ...shape.data, document: doc.value } };
}

/**
 * Runs `llmo policy <verb>`; resolves with the exit code. `open` makes the transport (default Kafka).
 *
 * @example
 * ```ts
 * const code = await policyCommand('show', 'qa', { brokers: '127.0.0.1:9092' }, io);
 * ```
 */
export async function policyCommand(
  verb: 'show' | 'apply' | 'rollback', arg: string | undefined, opts: PolicyCommandOptions, io: Io, open?: (options: KafkaTransportOptions) => OpenedKafka,
): Promise<number> {
  // local checks first: nothing is sent, and no broker is needed, to refuse a bad file
  let file: Awaited<ReturnType<typeof readPolicyFile>> | undefined;
  if (verb === 'apply') {
    if (arg === undefined) return fail(io, 'policy apply: give the policy file (JSON or YAML)');
    file = await readPolicyFile(arg);
    if (!file.ok) return reportIssues(io, arg, file.issues);
    if (opts.topology !== undefined) {
      const loaded = await loadForCli(opts.topology, opts.ops);
      if (!loaded.ok) return reportIssues(io, opts.topology, loaded.issues);
      if (loaded.topology.name !== file.value.target) return fail(io, `${arg}: target '${file.value.target}' is not the topology of ${opts.topology} ('${loaded.topology.name}')`);
      const issues = checkPolicyAgainst(loaded.topology, file.value.document);
      if (issues.length > 0) return reportIssues(io, arg, issues.map((i) => ({ ...i, path: ['document', ...i.path] })));
    }
  }
  if (verb === 'rollback' && arg === undefined) return fail(io, 'policy rollback: give the topology (the policy target)');

  const c = await connectKafka(opts, io, 'llmo-policy', open);
  if (!c.ok) return c.code;
  const { transport, where } = c;
  const topic = transport.topics.policy;
  try {
    const updates = await readPolicyTopic(transport);
    const log: PolicyLog = replayPolicies(updates);
    const governance = updates.filter((u) => u.target === GOVERNANCE_POLICY_TARGET);
    const publish = async (p: PolicyVersion): Promise<number> => {
      await transport.send('policy', [{ key: p.target, value: policyToMessage(p) }]);
      io.out.write(`${JSON.stringify(json(p))}\n`);
      io.err.write(`published ${p.target} v${p.version} to ${topic}\n`);
      await recordAdmin(transport, io, `admin.policy.${verb}`, { target: p.target, version: p.version, policyId: p.policyId, reason: p.reason });
      return EXIT.ok;
    };
    switch (verb) {
      case 'show': {
        if (arg === GOVERNANCE_POLICY_TARGET) {
          const shown = opts.history === true ? governance : governance.slice(-1);
          io.out.write(`${JSON.stringify(shown.map(governanceJson), null, 2)}\n`);
          if (shown.length === 0) io.err.write(`no governance rules in ${topic}\n`);
          return EXIT.ok;
        }
        const targets = [...log.versions.keys()].filter((t) => arg === undefined || t === arg).sort();
        const shown = targets.flatMap((t) => (opts.history === true ? log.versions.get(t)! : [log.versions.get(t)!.at(-1)!]));
        io.out.write(`${JSON.stringify(shown.map(json), null, 2)}\n`);
        const refused = log.refused.filter((r) => arg === undefined || r.update.target === arg);
        if (refused.length > 0) io.err.write(`${refused.length} update(s) in ${topic} are refused by the workers' loops (not shown)\n`);
        if (arg !== undefined && targets.length === 0) io.err.write(`no policy for '${arg}' in ${topic}\n`);
        return EXIT.ok;
      }
      case 'apply': {
        const f = file!.ok ? file!.value : undefined!;
        if (f.target === GOVERNANCE_POLICY_TARGET) {
          const current = Math.max(0, ...governance.map((u) => u.version));
          if (f.version !== undefined && f.version <= current) return fail(io, `${arg}: version: ${f.version} is not above the current version ${current} of the governance rules in ${topic}`);
          const u: PolicyUpdateMessage = {
            policyId: f.policyId ?? 'llmo-cli', version: f.version ?? current + 1, target: GOVERNANCE_POLICY_TARGET,
            params: { document: JSON.stringify(f.document) }, reason: f.reason ?? null, ts: Date.now(),
          };
          await transport.send('policy', [{ key: u.target, value: u }]);
          io.out.write(`${JSON.stringify(governanceJson(u))}\n`);
          io.err.write(`published governance rules v${u.version} to ${topic}\n`);
          await recordAdmin(transport, io, 'admin.policy.apply', { target: u.target, version: u.version, policyId: u.policyId, reason: u.reason });
          return EXIT.ok;
        }
        const current = log.versions.get(f.target)?.at(-1)?.version ?? 0;
        if (f.version !== undefined && f.version <= current) return fail(io, `${arg}: version: ${f.version} is not above the current version ${current} of '${f.target}' in ${topic}`);
        return await publish({
          target: f.target, version: f.version ?? current + 1, policyId: f.policyId ?? 'llmo-cli', document: f.document, reason: f.reason ?? null, ts: Date.now(),
        });
      }
      case 'rollback': {
        const target = arg!;
        const versions = log.versions.get(target) ?? [];
        const current = versions.at(-1);
        if (current === undefined) return fail(io, `no policy for '${target}' in ${topic}: nothing to roll back`);
        const to = opts.to ?? versions.at(-2)?.version;
        if (to === undefined) return fail(io, `'${target}' has only version ${current.version} in ${topic}: nothing to roll back to`);
        const old = versions.find((p) => p.version === to);
        if (old === undefined) {
          return fail(io, `--to: '${target}' has no version ${to} in ${topic} (versions: ${versions.map((p) => p.version).join(', ')}; older ones may have been compacted away)`);
        }
        if (old === current) return fail(io, `--to: version ${to} is the current version of '${target}'`);
        return await publish({
          target, version: current.version + 1, policyId: 'llmo-cli', document: old.document, reason: opts.reason ?? `rollback to v${to}`, ts: Date.now(),
        });
      }
    }
  } catch (e) {
    const p = kafkaProblem(where, e);
    return fail(io, p.message, p.code);
  } finally {
    await transport.close().catch(() => undefined);
  }
}
