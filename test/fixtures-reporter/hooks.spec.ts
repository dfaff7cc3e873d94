// Fixture (see vitest.config.ts here): hook failures and test states the closing line must count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('setup fails', () => {
  beforeAll(() => {
    throw new Error('beforeAll fails on purpose');
  });
  it('never runs (a)', () => undefined);
  it('never runs (b)', () => undefined);
});

describe('teardown fails', () => {
  afterAll(() => {
    throw new Error('afterAll fails on purpose');
  });
  it('passes before the failing afterAll', () => undefined);
});

it('passes', () => {
  expect(1).toBe(1);
});

it.fails('is expected to fail', () => {
  expect(1).toBe(2);
});

it('fails', () => {
  expect(1).toBe(2);
});

it.skip('is skipped', () => undefined);

it.todo('is a todo');
