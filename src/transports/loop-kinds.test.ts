// The loop's wire kinds: evaluation requests and experience records (topics, round trips, semantic checks naming
// the field), and feedback v3 (label) reading v1 and v2 data with label null.
import { describe, expect, it } from 'vitest';
import { Codec, createCodec, SCHEMA_FILES } from './codec.ts';
import { checkMessage } from './checks.ts';
import type { FeedbackMessage } from './messages.ts';
import { topicNames } from './transport.ts';
import { sampleMessages } from '../../test/kafka/support.ts';

const codec = createCodec();
const samples = sampleMessages();

describe('loop message kinds', () => {
  it('evaluation requests go to <prefix>.evaluations and experience to <prefix>.experience', () => {
    expect(topicNames('prod')).toMatchObject({ evaluation: 'prod.evaluations', experience: 'prod.experience' });
  });

  it('feedback v3 carries a label; v2 and v1 data read with label null', () => {
    const e = codec.encode('feedback', samples.feedback);
    expect(codec.decode('feedback', e.value, e.headers)).toEqual({ ok: true, value: samples.feedback });
    const { label: _label, ...v2Value } = samples.feedback;
    const v2 = new Codec({ ...SCHEMA_FILES, feedback: ['feedback.v1.avsc', 'feedback.v2.avsc'] });
    const old = v2.encode('feedback', v2Value as FeedbackMessage);
    expect(codec.decode('feedback', old.value, old.headers)).toEqual({ ok: true, value: { ...v2Value, label: null } });
    const bare = codec.encode('feedback', v2Value as FeedbackMessage); // a writer that leaves label out
    expect(codec.decode('feedback', bare.value, bare.headers)).toEqual({ ok: true, value: { ...v2Value, label: null } });
  });

  it('refuses evaluation requests whose texts are not JSON, whose counts are negative or whose id does not match, naming the field', () => {
    const r = samples.evaluation;
    expect(checkMessage('evaluation', r)).toBeUndefined();
    expect(checkMessage('evaluation', { ...r, nodeId: 'gen', evaluationId: 'run-1:gen' })).toBeUndefined();
    expect(checkMessage('evaluation', { ...r, output: '{nope' })).toMatch(/^invalid evaluation:\n[\s\S]*output: must be JSON text/);
    expect(checkMessage('evaluation', { ...r, outputTokens: -1 })).toMatch(/outputTokens/);
    expect(checkMessage('evaluation', { ...r, costUsd: Number.NaN })).toMatch(/costUsd/);
    expect(checkMessage('evaluation', { ...r, nodeId: 'gen' })).toMatch(/evaluationId: must be the run id, or <runId>:<nodeId>/);
  });

  it('refuses experience records with a non-finite reward or a context that is not JSON, naming the field', () => {
    const x = samples.experience;
    expect(checkMessage('experience', x)).toBeUndefined();
    expect(checkMessage('experience', { ...x, reward: Number.POSITIVE_INFINITY })).toMatch(/^invalid experience:\n[\s\S]*reward/);
    expect(checkMessage('experience', { ...x, context: 'ctx' })).toMatch(/context: must be JSON text/);
    expect(checkMessage('experience', { ...x, arm: '' })).toMatch(/arm/);
  });

  it('evaluation requests and experience records round-trip with every field', () => {
    for (const kind of ['evaluation', 'experience'] as const) {
      const e = codec.encode(kind, samples[kind]);
      expect(codec.decode(kind, e.value, e.headers)).toEqual({ ok: true, value: samples[kind] });
    }
  });
});
