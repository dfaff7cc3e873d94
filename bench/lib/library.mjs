/**
 * `node --import tsx --import ./bench/lib/library.mjs …`: the library from dist/ (see ./library-hooks.mjs).
 * @module
 */
import { register } from 'node:module';

register('./library-hooks.mjs', import.meta.url);
