import { kernel, Console } from '../../../src/guest/index.ts';
kernel(() => {
  Console.log('about to throw');
  throw new Error('kernel bug');
});
