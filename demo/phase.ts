/** The page's phases: what can be pressed follows from the phase alone. */
export type Phase =
  | 'boot' // finding a GPU and loading data
  | 'idle' // no run
  | 'ready' // a run made from loaded weights, not trained yet
  | 'running'
  | 'pausing'
  | 'paused'
  | 'done'
  | 'diverged' // rolled back to the last good weights
  | 'failed' // a GPU error: Reset to start over
  | 'lost' // the device is gone: Restart and continue
  | 'busy'; // creating a run, loading weights, restarting

export const PHASE_LABEL: Record<Phase, string> = {
  boot: 'starting',
  idle: 'ready',
  ready: 'weights loaded',
  running: 'training',
  pausing: 'pausing…',
  paused: 'paused',
  done: 'done',
  diverged: 'diverged',
  failed: 'stopped',
  lost: 'device lost',
  busy: 'working…',
};
