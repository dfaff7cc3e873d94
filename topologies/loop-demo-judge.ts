/**
 * The demo's evaluator as a judge topology, for `llmo evaluate` over Kafka: its input is an
 * evaluation request with `input` and `output` parsed (`{ input: { question }, output: { text, … }, … }`),
 * its output a score in [0, 1] with a label. The judging is SIMULATED: `simJudge` checks the sum.
 *
 *   npx llmo evaluate --judge topologies/loop-demo-judge.ts --metric correct --brokers 127.0.0.1:19092
 * @module
 */
import { z } from 'zod';
import { simJudge, topology } from 'llm-orchestrator';

/** The judge: 1 (`right`) when the answer's last number is the question's sum, else 0 (`wrong`). */
export const sumJudge = topology('sum-judge', {
  input: z.looseObject({ input: z.unknown(), output: z.unknown() }),
  description: 'Scores an answer to a sum question: 1 when its last number is the sum (SIMULATED evaluator)',
})
  .map('verdict', {
    run: ({ input }) => {
      const score = simJudge(input.input, input.output);
      return { score, label: score === 1 ? 'right' : 'wrong' };
    },
  })
  .build({ output: 'verdict' });

/** The default export `llmo evaluate --judge` picks. */
export default sumJudge;
