// The toolstack's xs_directory on a listing larger than one xenstore reply
// (4,096 bytes): E2BIG, then XS_DIRECTORY_PART parts (xs.c: xs_directory,
// xs_directory_part). dom0's backend/vif holds one name per vif domain: with
// thousands of them libxl's path cleanup on destroy lists it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFixture } from './fixture.ts';

const T = suite('toolstack xs directory');

T("a directory of 3,000 names (about 14 KiB) is listed whole, in the daemon's order, over DIRECTORY_PART", () => {
  const fx = makeFixture();
  const names = Array.from({ length: 3000 }, (_, i) => String(i + 1));
  fx.run(function* () {
    const t = yield* fx.xs.transactionStart();
    for (const n of names) yield* fx.xs.write(t, `/big/${n}`, '');
    yield* fx.xs.transactionEnd(t, true);
  });
  let requests = 0;
  const process = fx.xsd.process.bind(fx.xsd);
  fx.xsd.process = (c, msg) => {
    requests++;
    process(c, msg);
  };
  const got = fx.run(function* () {
    return yield* fx.xs.directory(0, '/big');
  });
  // cxenstored lists children in the order they were made.
  assert.equal(got, names);
  // One DIRECTORY (E2BIG), then parts of up to 4 KiB each: 4 of them for ~14 KiB.
  assert.ok(requests >= 4 && requests <= 6, `${requests} requests`);
  assert.is(fx.run(function* () {
    return yield* fx.xs.directory(0, '/nothing-here');
  }), undefined);
});

T.run();
