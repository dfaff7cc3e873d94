/**
 * The options several `llmo` commands share, declared once: the Kafka connection
 * and topic options (with their help text), and the descriptions of `--store`,
 * `--slo`, `--governance` and `--ops`. Commander only, so `llmo --help` still loads
 * next to nothing (the Kafka settings themselves are parsed by kafka-config.ts).
 * @module
 */
import type { Command } from 'commander';
import { positiveInt, retention } from './option-values.ts';

/** The variables `worker` and `submit` read (kept here, not imported: `--help` loads nothing else). */
const KAFKA_HELP = `
Kafka settings: flags win over the --kafka-config file, which wins over KAFKA_* variables.
  --kafka-config <file>  JSON or YAML: brokers, clientId, prefix, ssl (true, or ca/caFile, cert/certFile,
                         key/keyFile, rejectUnauthorized, servername), sasl (mechanism: plain, scram-sha-256
                         or scram-sha-512; username; password), partitions, replicationFactor, retentionMs,
                         minInsyncReplicas, sessionTimeoutMs, connectionTimeoutMs. File paths are relative to the file.
  Environment: KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_SSL (true|false), KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE,
               KAFKA_SSL_KEY_FILE, KAFKA_SSL_REJECT_UNAUTHORIZED, KAFKA_SSL_SERVERNAME, KAFKA_SASL_MECHANISM,
               KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD.
Topics are created with --partitions (default 6), --replication-factor (default 1), --retention-ms and
--min-insync-replicas; the policies topic is compacted. Existing topics are checked: fewer partitions, a
non-compacted policies topic or another retention is a warning; a lower replication factor or a compacted
run topic is an error (exit 2).
Exit codes: 69 no broker reachable, 77 credentials refused or TLS failed, 2 invalid settings.
`;

/**
 * Adds the Kafka options of `worker` and `submit` (and every other command that talks to Kafka) to `cmd`,
 * with the Kafka settings help after its own: the same flags, parsed by the same code (kafka-config.ts).
 *
 * @example
 * ```ts
 * kafkaOptions(program.command('submit').argument('<topologyName>')).action(submit);
 * ```
 */
export function kafkaOptions(cmd: Command): Command {
  return cmd
    .option('-b, --brokers <list>', 'Kafka bootstrap brokers, comma-separated host:port (or brokers in --kafka-config, or KAFKA_BROKERS)')
    .option('--kafka-config <file>', 'Kafka connection settings, JSON or YAML (see below)')
    .option('--client-id <id>', 'Kafka client id (default llmo-worker / llmo-submit)')
    .option('--prefix <prefix>', 'topic name prefix (default llmo)')
    .option('--partitions <n>', 'partitions of topics created (default 6)', positiveInt)
    .option('--replication-factor <n>', 'replication factor of topics created (default 1)', positiveInt)
    .option('--retention-ms <ms>', "retention.ms of topics created (-1: forever; default the broker's)", retention)
    .option('--min-insync-replicas <n>', "min.insync.replicas of topics created (default the broker's)", positiveInt)
    .option('--session-timeout-ms <ms>', 'consumer session timeout (default 10000)', positiveInt)
    .addHelpText('after', KAFKA_HELP);
}

/**
 * The description of `--store <url>`; commands append what the store does for them.
 *
 * @example
 * ```ts
 * cmd.option('--store <url>', `${STORE}; without it runs are kept in memory only`);
 * ```
 */
export const STORE = 'record runs in a run store: a file path (embedded SQLite) or postgres://... (default LLMO_STORE)';

/**
 * The description of `--slo <file>`.
 *
 * @example
 * ```ts
 * cmd.option('--slo <file>', SLO);
 * ```
 */
export const SLO = 'SLO rules (YAML or JSON) evaluated over the runs; each alert raised or resolved is printed as one line on stderr';

/**
 * The description of `--governance <file>`; `worker` appends how it follows later documents.
 *
 * @example
 * ```ts
 * cmd.option('--governance <file>', GOVERNANCE);
 * ```
 */
export const GOVERNANCE = 'policy rules and budgets (YAML or JSON: policies, budgets, ledger) checked before each run, model call and tool call';

/**
 * The description of `--audit <target>` where it takes a file or a store database (`worker` also takes `kafka`).
 *
 * @example
 * ```ts
 * cmd.option('--audit <target>', AUDIT);
 * ```
 */
export const AUDIT = 'write audit records of the runs to a .jsonl file or a store database (a SQLite file or postgres://)';

/**
 * The description of `--ops <module>`.
 *
 * @example
 * ```ts
 * cmd.option('--ops <module>', OPS);
 * ```
 */
export const OPS = 'operator registry for JSON/YAML topologies (default: <name>.ops.{ts,mts,js,mjs} beside it)';

/**
 * Help of `--health-port` (long-lived Kafka commands: `worker`, `evaluate`).
 *
 * @example
 * ```ts
 * cmd.option('--health-port <port>', HEALTH_PORT, port);
 * ```
 */
export const HEALTH_PORT = 'serve GET /healthz (200 up/degraded, 503 down, JSON report), GET /readyz and GET /metrics (Prometheus) on this port';

/**
 * Help of `--exit-on-down-ms` (long-lived Kafka commands: `worker`, `evaluate`).
 *
 * @example
 * ```ts
 * cmd.option('--exit-on-down-ms <ms>', EXIT_ON_DOWN, nonNegativeInt, 60_000);
 * ```
 */
export const EXIT_ON_DOWN = 'stop and exit 1 when the health stays down this long (0: never; default 60 s: two broker restarts in a row can keep a consumer group down 25-30 s before it rejoins on its own)';
