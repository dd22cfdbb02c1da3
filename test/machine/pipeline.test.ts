import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLine, pipeText, runFilters } from '../../src/machine/pipeline.ts';

const t = suite("the xl prompt's `;` and `|`");
const PS = '  PID STAT COMMAND\n    1 S    /sbin/init\n    2 S    [kthreadd]\n   38 S    [xenbus]\n   39 D    [xenwatch]\n';

t('`;` separates commands, `|` stages; quotes keep them as text', () => {
  assert.equal(parseLine('create a.cfg; list'), [[['create', 'a.cfg']], [['list']]]);
  assert.equal(parseLine('ps ax | grep xen | wc -l'), [[['ps', 'ax'], ['grep', 'xen'], ['wc', '-l']]]);
  assert.equal(parseLine(`xenstore-write /a 'x; y|z'; ;`), [[['xenstore-write', '/a', 'x; y|z']]]);
  assert.equal(parseLine('grep "a\\"b" # comment'), [[['grep', 'a"b']]]);
  assert.equal(parseLine(''), []);
  assert.equal(parseLine('sleep 1;\n   list\nps'), [[['sleep', '1']], [['list']], [['ps']]], 'a newline separates commands');
  assert.throws(() => parseLine('list |'), /syntax error/);
  assert.throws(() => parseLine('| grep x'), /syntax error/);
  assert.throws(() => parseLine("echo 'open"), /unterminated single quote/);
});

t('ps ax | grep xen drops the header, as grep does', () => {
  assert.is(pipeText(PS, 'grep xen'), '   38 S    [xenbus]\n   39 D    [xenwatch]\n');
  assert.is(pipeText(PS, "grep -E 'xen|init'"), '    1 S    /sbin/init\n   38 S    [xenbus]\n   39 D    [xenwatch]\n');
  assert.is(pipeText(PS, "grep 'xenbus\\|init'"), '    1 S    /sbin/init\n   38 S    [xenbus]\n', 'BRE alternation');
  assert.is(pipeText(PS, 'grep -F [xen'), '   38 S    [xenbus]\n   39 D    [xenwatch]\n');
  assert.is(pipeText(PS, 'grep -vc xen'), '3\n');
  assert.is(pipeText(PS, 'grep -i KTHREADD'), '    2 S    [kthreadd]\n');
});

t('head and wc, and the exit codes of the last stage', () => {
  const ok = { code: 0, stdout: PS, stderr: '' };
  assert.equal(runFilters(ok, [['head', '-n', '2']]), { code: 0, stdout: '  PID STAT COMMAND\n    1 S    /sbin/init\n', stderr: '' });
  assert.is(runFilters(ok, [['head', '-1']]).stdout, '  PID STAT COMMAND\n');
  assert.is(runFilters(ok, [['wc', '-l']]).stdout, '5\n');
  assert.is(runFilters(ok, [['grep', 'xen'], ['wc', '-l']]).stdout, '2\n');
  assert.is(runFilters(ok, [['grep', 'nothing']]).code, 1, 'grep selected no line');
  assert.is(runFilters(ok, [['grep', '(']]).code, 1, 'a BRE ( is a literal that matches nothing, not an error');
  assert.is(runFilters(ok, [['grep', '-E', '(']]).code, 2);
  assert.is(runFilters(ok, [['grep']]).code, 2);
  assert.is(runFilters(ok, [['head', '-n', 'x']]).code, 1);
  const r = runFilters(ok, [['list']]);
  assert.is(r.code, 127);
  assert.match(r.stderr, /only grep, head and wc can read a pipe/);
  // A failing command's stderr passes through the pipe; the code is the last stage's (no pipefail).
  const f = runFilters({ code: 1, stdout: '', stderr: 'boom\n' }, [['wc', '-l']]);
  assert.equal(f, { code: 0, stdout: '0\n', stderr: 'boom\n' });
});

t.run();
