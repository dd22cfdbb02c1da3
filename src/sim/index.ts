export { Sim, RandomScheduler, type Task, type Hang, type Oracle, type RunOptions, type RunResult, type SimOptions, type Scheduler } from './sim.ts';
export { Clock, NS, type Timer } from './clock.ts';
export { Choices } from './choice.ts';
export { Trace, type TraceArgs } from './trace.ts';
export { SimThread, WaitQueue, Mutex, current, call, frame, schedule, sleep, waitEvent, yieldNow, type Co, type Op, type ThreadState } from './thread.ts';
