/**
 * The messages between the page and the engine's worker, in one place. The page sends requests
 * (`Request`, each with an id) and gets exactly one `Reply` per request; the worker also sends
 * `Note`s on its own (training progress, device loss, saves). Large arrays travel as
 * transferables: the data files' bytes, losses, predictions, weights.
 */
import type { AdapterSummary, StepProfile } from '../src/index.ts';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

/** Everything the settings panel says; JSON, so it can be saved with a run and shown as its label. */
export interface RunSettings {
  readonly epochs: number;
  readonly layers: readonly number[];
  readonly batchSize: number;
  readonly seed: number;
  readonly optimizer: {
    readonly kind: OptimizerKind;
    readonly lr: number;
    readonly momentum: number;
    readonly weightDecay: number;
    readonly beta1: number;
    readonly beta2: number;
  };
  /** the learning-rate schedule: per epoch, with a linear warm-up per step (absent in runs saved before the page had schedules) */
  readonly schedule?: {
    readonly kind: ScheduleKind;
    /** StepLR: epochs between decays */
    readonly stepSize: number;
    readonly gamma: number;
    readonly warmupSteps: number;
  };
}

export type ScheduleKind = 'constant' | 'step' | 'cosine';

/** One epoch's test result, as drawn on the charts. */
export interface EpochPoint {
  /** epochs completed */
  readonly epoch: number;
  /** global steps done at that point */
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number;
}

/** A run's curves: what the charts draw, what is saved, what runs are compared by. */
export interface RunHistory {
  readonly losses: Float32Array;
  readonly tests: readonly EpochPoint[];
}

/** What the page shows about a run: its settings, where it stands, its curves. */
export interface RunInfo {
  readonly id: string;
  readonly settings: RunSettings;
  readonly stepsPerEpoch: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly globalStep: number;
  readonly completed: boolean;
  readonly history: RunHistory;
}

/** Test digits for the grid: a spread of the test set, and later the first mistakes (images are 28×28 u8). */
export interface GridDigits {
  readonly indices: Uint32Array;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  /** predicted classes, when there are predictions */
  readonly predicted?: Uint32Array;
}

export interface GridUpdate {
  readonly sample: GridDigits;
  readonly mistakes?: GridDigits;
  /** misclassified test digits in all */
  readonly wrong?: number;
  readonly testCount: number;
}

export interface DeviceInfo {
  readonly adapter: AdapterSummary;
  readonly timestamps: boolean;
}

export type StopReason = 'completed' | 'paused';

/** Page → worker. */
export type Command =
  | { readonly type: 'init' }
  | {
      readonly type: 'data';
      /** the worker fetches from the server itself, or reads the files a person picked (File handles: no bytes cross) */
      readonly source: { readonly server: string } | { readonly files: readonly { name: string; file: Blob }[] };
      readonly subset?: number;
      readonly test?: number;
    }
  | { readonly type: 'create'; readonly settings: RunSettings; readonly init?: { name: string; bytes: Uint8Array } }
  | { readonly type: 'fit'; readonly epochs: number }
  | { readonly type: 'pause' }
  | { readonly type: 'set-lr'; readonly lr: number }
  | { readonly type: 'dispose' }
  | { readonly type: 'predict'; readonly pixels: Float32Array }
  | { readonly type: 'save-weights' }
  | { readonly type: 'load-weights'; readonly name: string; readonly bytes: Uint8Array; readonly settings: RunSettings }
  | { readonly type: 'profile' }
  | { readonly type: 'restart' }
  | { readonly type: 'saved' }
  | { readonly type: 'resume-saved' }
  | { readonly type: 'clear-saved' }
  | { readonly type: 'lose-device' }
  | { readonly type: 'weights-hash' };

export type Request = Command & { readonly id: number };

/** What each command's reply carries. */
export interface Results {
  init: DeviceInfo;
  data: { trainCount: number; testCount: number; grid: GridUpdate };
  create: RunInfo;
  fit: { stopped: StopReason; run: RunInfo };
  pause: null;
  'set-lr': null;
  dispose: null;
  predict: Float32Array;
  'save-weights': { name: string; bytes: Uint8Array };
  'load-weights': { run: RunInfo; accuracy: number; loss: number; count: number; grid: GridUpdate };
  profile: StepProfile;
  restart: { device: DeviceInfo; run: RunInfo | undefined };
  saved: SavedRuns;
  'resume-saved': { run: RunInfo; grid: GridUpdate | undefined };
  'clear-saved': null;
  'lose-device': null;
  'weights-hash': string;
}

/** What the Origin Private File System holds: the run to continue, if any, and finished runs to compare. */
export interface SavedRuns {
  readonly resumable: RunInfo | undefined;
  readonly finished: readonly RunInfo[];
  /** saves that could not be read (corrupt, truncated, another version): reported, then ignored */
  readonly problems: readonly string[];
}

/** An error as it crosses the worker boundary: the engine's class name survives. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** DivergenceError: the global step the weights were rolled back to */
  readonly lastGoodStep?: number;
}

export type Reply =
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: WireError };

/** Worker → page, unasked. */
export type Note =
  | { readonly type: 'data-progress'; readonly text: string; readonly fraction?: number }
  | { readonly type: 'chunk'; readonly firstStep: number; readonly losses: Float32Array; readonly samples: number; readonly epoch: number }
  | { readonly type: 'epoch'; readonly point: EpochPoint; readonly grid: GridUpdate }
  | { readonly type: 'autosaved'; readonly epoch: number; readonly stepInEpoch: number; readonly globalStep: number }
  | { readonly type: 'autosave-failed'; readonly message: string }
  | { readonly type: 'lost'; readonly message: string }
  | { readonly type: 'buffers'; readonly live: number; readonly liveBytes: number; readonly lost: boolean };

export type FromWorker = Reply | Note;

/** A short label for a run: how runs are told apart on the charts. */
export function describeSettings(s: RunSettings): string {
  const o = s.optimizer;
  const opt = o.kind === 'sgd' ? `sgd lr ${o.lr}${o.momentum ? ` m ${o.momentum}` : ''}` : `${o.kind} lr ${o.lr} β ${o.beta1}/${o.beta2}`;
  const wd = o.weightDecay ? ` wd ${o.weightDecay}` : '';
  const sc = s.schedule;
  const schedule =
    !sc || sc.kind === 'constant'
      ? ''
      : ` · ${sc.kind === 'step' ? `step ${sc.stepSize}×${sc.gamma}` : 'cosine'}${sc.warmupSteps ? ` warm-up ${sc.warmupSteps}` : ''}`;
  return `${s.layers.join('-')} · ${opt}${wd}${schedule} · batch ${s.batchSize} · seed ${s.seed}`;
}
