// Drive `xenode xl` through a pseudo-terminal (util-linux's `script`), typing
// as a person would: see typeTimed.
import { spawn } from 'node:child_process';

export type Step = [delay: number, input: string, now?: 'now'];

/**
 * Types each input once the previous command has finished (a new prompt
 * appeared after it was sent) and then `delay` wall ms have passed, as a
 * person reading the output would; an input marked `now` goes `delay` ms
 * after the previous one without waiting for a prompt (a key pressed while
 * a console is attached). Resolves when the session ends.
 */
export function typeTimed(cmd: string, steps: Step[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let next = 0;
    let seen = 0;
    let waiting = false;
    const prompts = () => out.split('xl> ').length - 1;
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`the session did not end:\n${out}`));
    }, 30_000);
    const send = () => {
      const [delay, input] = steps[next++]!;
      waiting = true;
      setTimeout(() => {
        seen = prompts();
        waiting = false;
        p.stdin.write(input);
        if (steps[next]?.[2] === 'now') send();
      }, delay);
    };
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!waiting && next < steps.length && prompts() > seen) send();
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

