// src/guest/rxjs_error_class.ts against rxjs's own error classes: the
// bundler swaps it in for rxjs's createErrorClass (src/machine/kernels.ts), so
// an error class must come out the same (prototype chain, the constructor
// property's attributes, name, message, stack).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EmptyError } from 'rxjs';
import { createErrorClass } from '../../src/guest/rxjs_error_class.ts';
import { buildKernel } from '../../src/machine/kernels.ts';

const T = suite('rxjs error class');

interface EmptyErrorCtor { new (): Error }

T('an error class made here has the shape of rxjs EmptyError', () => {
  // rxjs 7's EmptyError, made with this createErrorClass.
  const Mine = createErrorClass((_super) => function EmptyErrorImpl(this: Error) {
    _super(this);
    this.name = 'EmptyError';
    this.message = 'no elements in sequence';
  }) as unknown as EmptyErrorCtor;
  const theirs = new (EmptyError as unknown as EmptyErrorCtor)();
  const mine = new Mine();
  assert.ok(mine instanceof Error && mine instanceof Mine);
  assert.is(Object.getPrototypeOf(Mine.prototype), Error.prototype);
  assert.is(Object.getPrototypeOf(EmptyError.prototype), Error.prototype);
  const attrs = (c: object) => {
    const d = Object.getOwnPropertyDescriptor((c as { prototype: object }).prototype, 'constructor')!;
    return { own: d.value === c, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable };
  };
  assert.equal(attrs(Mine), attrs(EmptyError));
  assert.equal([mine.name, mine.message], [theirs.name, theirs.message]);
  assert.type(mine.stack, 'string');
});

T("a kernel bundle gets this createErrorClass, not rxjs's", async () => {
  const { code } = await buildKernel('kernels/xs.ts');
  // No store of "constructor" on a prototype at boot (code, not comments).
  assert.not.match(code.replace(/\/\/.*$/gm, ''), /prototype\.constructor\s*=[^=]/);
  assert.match(code, 'rxjs_error_class.ts');
});

T.run();
