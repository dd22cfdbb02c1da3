import { test } from 'uvu';
import * as assert from 'uvu/assert';
test('toolchain runs TypeScript tests', () => {
  assert.is(1 + 1, 2);
});
test.run();
