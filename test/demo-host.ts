/**
 * The host side of the demo's main-thread measurement (test/demo.test.ts), Linux only: which
 * processes are this browser's, the priority of SwiftShader's threads, and how much CPU other
 * jobs took meanwhile. Everything reads /proc; a process that ends while it is read is skipped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Linux's USER_HZ: /proc's CPU times are in these ticks. */
const TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime [11], stime [12]). */
function statFields(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Whether `pid` is `root` or runs under it (puppeteer's pid may be a launcher script's, a few levels up). */
function descends(pid: number, root: number): boolean {
  for (let p = pid, up = 0; p > 1 && up < 8; p = Number(statFields(p)[1]), up++) if (p === root) return true;
  return false;
}

/**
 * Chrome runs its GPU process at display priority (nice −8 on Linux), and SwiftShader's worker
 * threads (named `Thread<NN>` by its scheduler, marl) inherit it: on a CPU adapter the training's
 * GPU work then fills both cores at six times the weight of the page's main thread (nice 0), and
 * a frame of 4 ms of CPU takes 50–150 ms of wall time (demo/README.md has the trace). A hardware
 * GPU does that work on the GPU, not on the page's cores. So the main-thread case gives those
 * threads the page's priority from the moment they exist, and measures the page. The returned
 * function stops watching and says how many threads were moved (none with a hardware adapter).
 */
export function softwareGpuAtPagePriority(browserPid: number): () => number {
  const moved = new Set<number>();
  const sweep = () => {
    for (const pid of pids()) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=gpu-process') || !descends(pid, browserPid)) continue;
        for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
          if (!/^Thread<\d+>$/.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()) || getPriority(tid) >= 0) continue;
          setPriority(tid, 0);
          moved.add(tid);
        }
      } catch {
        // ended while being looked at
      }
    }
  };
  sweep();
  const timer = setInterval(sweep, 200);
  return () => {
    clearInterval(timer);
    return moved.size;
  };
}

/** CPU seconds used so far by the whole machine and by this browser (and this test process): their difference is other jobs'. */
export function cpuSeconds(browserPid: number): { machine: number; ours: number } {
  // cpu  user nice system idle iowait irq softirq steal ...
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const machine = (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!) / TICKS_PER_SECOND;
  let ours = 0;
  for (const pid of pids()) {
    try {
      if (pid !== process.pid && !descends(pid, browserPid)) continue;
      const f = statFields(pid);
      ours += (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
    } catch {
      // ended while being looked at
    }
  }
  return { machine, ours };
}

/**
 * Waits until this browser has been nearly idle (under a fifth of a core) for 250 ms, at most
 * `maxMs`. A new window makes Chrome preload its omnibox popup's WebUI (a renderer evaluating
 * chrome:// modules for ~180 ms of CPU in the window's first 0.75 s, seen in a trace): on 2 cores
 * that ran beside the page's first layout and scripts and turned 18 ms of their CPU into a 74 ms
 * task. The main-thread case measures the page, from a browser that has settled.
 */
export async function browserSettled(browserPid: number, maxMs = 5000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const before = cpuSeconds(browserPid).ours;
    await new Promise((r) => setTimeout(r, 250));
    const busy = cpuSeconds(browserPid).ours - before;
    if (busy < 0.05 || Date.now() - start > maxMs) return Date.now() - start;
  }
}

/**
 * How slow this host's CPU is right now: the best of 3 runs of a fixed integer loop, in ms, and
 * whether it is over SLOW_HOST_MS. The 2-core AMD EPYC (Zen 5) VM this project runs on should do it
 * in ~35 ms (estimated: 250 ms while it ran 7× slow), an Intel Xeon host perhaps 1.5× that. That VM
 * once slowed down 7–8× for an hour, with nothing else running in it and no steal time in
 * /proc/stat (bench/RESULTS.md, 2026-12-02). On such a host the page's 18 ms first layout is itself
 * a long task: the main-thread case then checks what it checks on a shared machine, and says why.
 */
export const SLOW_HOST_MS = 100;

export function hostSpeed(): { spinMs: number; slow: boolean } {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    let x = 1;
    let sum = 0;
    for (let i = 0; i < 20_000_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      sum += x & 1023;
    }
    best = Math.min(best, performance.now() - start);
    if (sum < 0) throw new Error('unreachable: keeps the loop from being optimized away');
  }
  return { spinMs: Math.round(best), slow: best > SLOW_HOST_MS };
}

/** A main-thread task of the page in a Chrome trace: its wall time and the CPU its thread got. */
export interface TracedTask {
  readonly wallMs: number;
  readonly cpuMs: number;
}

interface TraceEvent {
  readonly name?: string;
  readonly ph?: string;
  readonly pid?: number;
  readonly tid?: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly tdur?: number;
  readonly args?: { readonly data?: { readonly url?: string } };
}

/**
 * The tasks over `overMs` of wall time on the main thread of the page at `url` (its renderer, as
 * its `CommitLoad` event names it), from a trace with the `toplevel` and `devtools.timeline`
 * categories. `cpuMs` is the thread's own CPU time in the task (`tdur`): a task whose CPU stayed
 * under 50 ms was stretched by the machine (its cores busy with other threads, or the thread
 * waiting), not made long by the page's work. Null when the trace does not show the page.
 */
export function pageLongTasks(trace: string, url: string, overMs = 50): TracedTask[] | null {
  const parsed = JSON.parse(trace) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  const commit = events.find((e) => e.name === 'CommitLoad' && e.args?.data?.url?.startsWith(url));
  if (commit?.pid === undefined) return null;
  const tasks = events
    .filter((e) => e.ph === 'X' && e.pid === commit.pid && e.tid === commit.tid && /(^|::)RunTask$/.test(e.name ?? ''))
    .sort((a, b) => a.ts! - b.ts! || b.dur! - a.dur!);
  // Only the outermost task events (Chrome nests RunTask inside ThreadControllerImpl::RunTask).
  const out: TracedTask[] = [];
  let end = -Infinity;
  for (const e of tasks) {
    if (e.ts! < end) continue;
    end = e.ts! + e.dur!;
    if (e.dur! > overMs * 1000) out.push({ wallMs: Math.round(e.dur! / 1000), cpuMs: Math.round((e.tdur ?? e.dur!) / 1000) });
  }
  return out;
}
