/**
 * The engine's side of the page, in a dedicated module worker: the GPU device, decoding the data
 * files, the trainer (training, evaluating, predicting, profiling), weights in and out, and saves
 * to the Origin Private File System. The page only sends commands (protocol.ts) and draws what
 * comes back, so its main thread never waits on any of this.
 */
import {
  createDevice,
  datasetSlice,
  decodeSafetensors,
  describeError,
  DivergenceError,
  InputError,
  layersOfStateDict,
  loadMnistFrom,
  type Dataset,
  type Device,
  type MnistLike,
} from '../src/index.ts';
import type { Command, DeviceInfo, FromWorker, GridDigits, GridUpdate, Request, Results, RunSettings, WireError } from './protocol.ts';
import { fetchMnist, type MnistFiles } from './data.ts';
import { Session } from './session.ts';
import { RunStore } from './store.ts';

const SIDE = 28 * 28;
const GRID_SIZE = 48;

let gpu: Device | undefined;
let data: MnistLike | undefined;
let session: Session | undefined;
const retired = new WeakSet<Device>();
const store = new RunStore();

function post(message: FromWorker, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(message, transfer);
}

/** The device's live buffers, for the page's footer (and the test's leak checks): sent before replies and chunks, and twice a second. */
function postBuffers(): void {
  if (gpu) post({ type: 'buffers', live: gpu.buffers.live, liveBytes: gpu.buffers.liveBytes, lost: gpu.isLost });
}

/** `navigator.gpu`, asking once more for a fallback (software) adapter when no other is offered. */
function withSoftwareFallback(g: GPU): GPU {
  return new Proxy(g, {
    get(target, key) {
      if (key === 'requestAdapter') {
        return async (options?: GPURequestAdapterOptions) =>
          (await target.requestAdapter(options)) ?? (await target.requestAdapter({ ...options, forceFallbackAdapter: true }));
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function acquire(): Promise<DeviceInfo> {
  const nav = navigator as Navigator & { gpu?: GPU };
  const device = await createDevice({ ...(nav.gpu ? { gpu: withSoftwareFallback(nav.gpu) } : {}), label: 'demo', timestamps: true });
  gpu = device;
  void device.lost.then((error) => {
    if (device === gpu && !retired.has(device)) post({ type: 'lost', message: error.message });
  });
  return { adapter: device.adapter, timestamps: device.hasTimestamps };
}

function needGpu(): Device {
  if (!gpu || gpu.isLost) throw new InputError('no usable GPU device');
  return gpu;
}

function needData(): MnistLike {
  if (!data) throw new InputError('load the data first');
  return data;
}

function needSession(): Session {
  if (!session) throw new InputError('no run: press Start first');
  return session;
}

function digits(test: Dataset, indices: number[], predicted?: Uint32Array): GridDigits {
  const images = new Uint8Array(indices.length * SIDE);
  const f = test.features;
  indices.forEach((index, i) => {
    for (let p = 0; p < SIDE; p++)
      images[i * SIDE + p] = f instanceof Uint8Array ? f[index * SIDE + p]! : Math.round(f[index * SIDE + p]! * 255);
  });
  return {
    indices: Uint32Array.from(indices),
    images,
    labels: Uint8Array.from(indices, (i) => test.labels[i]!),
    ...(predicted ? { predicted: Uint32Array.from(indices, (i) => predicted[i]!) } : {}),
  };
}

/** A spread of the test set for the grid, and with predictions the first mistakes (a few kB, not the test set). */
function gridUpdate(test: Dataset, predicted?: Uint32Array): GridUpdate {
  const n = Math.min(GRID_SIZE, test.count);
  const sample = Array.from({ length: n }, (_, i) => Math.floor((i * test.count) / n));
  if (!predicted) return { sample: digits(test, sample), testCount: test.count };
  const wrong: number[] = [];
  let total = 0;
  for (let i = 0; i < predicted.length; i++) {
    if (predicted[i] === test.labels[i]) continue;
    total++;
    if (wrong.length < GRID_SIZE) wrong.push(i);
  }
  return { sample: digits(test, sample, predicted), mistakes: digits(test, wrong, predicted), wrong: total, testCount: test.count };
}

function gridTransfer(g: GridUpdate | undefined): Transferable[] {
  if (!g) return [];
  return [g.sample, g.mistakes].flatMap((d) =>
    d ? [d.indices.buffer, d.images.buffer, d.labels.buffer, ...(d.predicted ? [d.predicted.buffer] : [])] : [],
  );
}

async function predictedGrid(s: Session): Promise<GridUpdate> {
  return gridUpdate(needData().test, await s.trainer.testPredictions());
}

async function loadData(source: Extract<Command, { type: 'data' }>['source'], subset?: number, test?: number) {
  let files: MnistFiles;
  let where: string;
  if ('server' in source) {
    const base = new URL(source.server);
    where = base.pathname;
    let last = 0;
    files = await fetchMnist(base, (fraction, text) => {
      // A note per 100 ms at most, not per network chunk.
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      post({ type: 'data-progress', text, ...(fraction === undefined ? {} : { fraction }) });
    });
  } else {
    where = 'the dropped files';
    post({ type: 'data-progress', text: 'Reading the files…' });
    files = await Promise.all(source.files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
  }
  const byName = new Map(files.map((f) => [f.name, f.bytes]));
  post({ type: 'data-progress', text: 'Decompressing and checking the files…' });
  const mnist = await loadMnistFrom(async (file: string) => byName.get(file) ?? null, where);
  const cut = (d: Dataset, n?: number) => (n && n < d.count ? datasetSlice(d, 0, n) : d);
  if (session) await dropSession(false);
  data = { train: cut(mnist.train, subset), test: cut(mnist.test, test) };
  return { trainCount: data.train.count, testCount: data.test.count, grid: gridUpdate(data.test) };
}

async function dropSession(archive: boolean): Promise<void> {
  const s = session;
  session = undefined;
  if (!s) return;
  await s.dispose();
  if (archive && s.trainer.globalStep > 0 && !s.completed) await store.saveFinished(s.info()).catch(() => {});
  await store.clearCurrent().catch(() => {});
}

async function autosave(s: Session): Promise<void> {
  try {
    await store.saveCurrent(s.info(), await s.trainer.checkpoint());
    post({ type: 'autosaved', epoch: s.trainer.epoch, stepInEpoch: s.trainer.stepInEpoch, globalStep: s.trainer.globalStep });
  } catch (error) {
    post({ type: 'autosave-failed', message: describeError(error) });
  }
}

async function fit(epochs: number): Promise<Results['fit']> {
  const s = needSession();
  const stopped = await s.fit(epochs, {
    onChunk: (firstStep, losses, samples, epoch) => {
      postBuffers();
      const copy = losses.slice();
      post({ type: 'chunk', firstStep, losses: copy, samples, epoch }, [copy.buffer]);
    },
    onEpoch: async (point) => {
      const grid = await predictedGrid(s);
      post({ type: 'epoch', point, grid }, gridTransfer(grid));
      if (s.trainer.epoch < epochs) await autosave(s);
    },
  });
  if (session !== s) return { stopped, run: s.info() };
  if (stopped === 'completed') {
    await store.saveFinished(s.info()).catch(() => {});
    await store.clearCurrent().catch(() => {});
  } else {
    await autosave(s);
  }
  return { stopped, run: s.info() };
}

async function loadWeights(name: string, bytes: Uint8Array, settings: RunSettings): Promise<Results['load-weights']> {
  const { tensors } = decodeSafetensors(bytes, name);
  const layers = layersOfStateDict(tensors);
  if (!layers) throw new InputError(`${name} has no l1.weight, l2.weight, … tensors: not weights of this kind of network`);
  const want = session?.settings.layers ?? settings.layers;
  if (layers.join('-') !== want.join('-'))
    throw new InputError(`${name} holds a ${layers.join('-')} network; this page trains ${want.join('-')}`);
  if (session) await session.trainer.loadSafetensors(tensors, name);
  else session = await Session.create(needGpu(), needData(), settings, { name, bytes });
  const s = session;
  s.kept = await s.trainer.saveState();
  const result = await s.trainer.evaluate();
  return { run: s.info(), accuracy: result.accuracy, loss: result.loss, count: result.count, grid: await predictedGrid(s) };
}

async function restart(): Promise<Results['restart']> {
  const old = gpu;
  const s = session;
  session = undefined;
  if (s) {
    s.pause();
    await s.running;
    s.trainer.dispose();
  }
  if (old) {
    retired.add(old);
    old.destroy();
  }
  gpu = undefined;
  const device = await acquire();
  if (!s || !s.kept || !data) return { device, run: undefined };
  const next = await Session.create(needGpu(), data, s.settings, undefined, s.id);
  next.trainer.restoreState(s.kept);
  next.kept = s.kept;
  next.completed = s.completed;
  next.setHistory(
    s.losses.slice(0, s.kept.globalStep),
    s.tests.filter((t) => t.step <= s.kept!.globalStep),
  );
  session = next;
  return { device, run: next.info() };
}

async function resumeSaved(): Promise<Results['resume-saved']> {
  const { resumable } = await store.load();
  if (!resumable) throw new InputError('there is no saved run to continue');
  if (session) await dropSession(false);
  const { info, checkpoint } = resumable;
  const s = await Session.create(needGpu(), needData(), info.settings, undefined, info.id);
  try {
    if (s.trainer.stepsPerEpoch !== info.stepsPerEpoch) {
      throw new InputError(
        `the saved run had ${info.stepsPerEpoch} steps an epoch, the data loaded now gives ${s.trainer.stepsPerEpoch}: load the same data to continue it`,
      );
    }
    await s.trainer.restore(checkpoint, 'the saved run');
  } catch (error) {
    s.trainer.dispose();
    throw error;
  }
  s.setHistory(info.history.losses, info.history.tests);
  s.kept = await s.trainer.saveState();
  session = s;
  return { run: s.info(), grid: s.trainer.epoch > 0 ? (await s.trainer.evaluate(), await predictedGrid(s)) : undefined };
}

async function weightsHash(): Promise<string> {
  const dict = await needSession().trainer.stateDict();
  const parts = [...dict.keys()].sort().map((k) => dict.get(k)!.data);
  const all = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function handle(c: Command): Promise<{ value: unknown; transfer?: Transferable[] }> {
  switch (c.type) {
    case 'init':
      return { value: await acquire() };
    case 'data': {
      const value = await loadData(c.source, c.subset, c.test);
      return { value, transfer: gridTransfer(value.grid) };
    }
    case 'create':
      if (session) await dropSession(false);
      session = await Session.create(needGpu(), needData(), c.settings, c.init);
      return { value: session.info() };
    case 'fit':
      return { value: await fit(c.epochs) };
    case 'pause':
      session?.pause();
      return { value: null };
    case 'set-lr':
      needSession().setLearningRate(c.lr);
      return { value: null };
    case 'dispose':
      await dropSession(true);
      return { value: null };
    case 'predict': {
      const probs = await needSession().trainer.predict(c.pixels);
      return { value: probs, transfer: [probs.buffer] };
    }
    case 'save-weights': {
      const t = needSession().trainer;
      const bytes = await t.saveSafetensors({ epochs: String(t.epoch) });
      return { value: { name: `mnist-mlp-epoch${t.epoch}.safetensors`, bytes }, transfer: [bytes.buffer] };
    }
    case 'load-weights': {
      const value = await loadWeights(c.name, c.bytes, c.settings);
      return { value, transfer: gridTransfer(value.grid) };
    }
    case 'profile':
      return { value: await needSession().profile() };
    case 'restart':
      return { value: await restart() };
    case 'saved': {
      const { resumable, finished, problems } = await store.load();
      return { value: { resumable: resumable?.info, finished, problems } };
    }
    case 'resume-saved': {
      const value = await resumeSaved();
      return { value, transfer: gridTransfer(value.grid) };
    }
    case 'clear-saved':
      await store.clearAll();
      return { value: null };
    case 'lose-device':
      gpu?.device.destroy();
      return { value: null };
    case 'weights-hash':
      return { value: await weightsHash() };
  }
}

function wire(error: unknown): WireError {
  const name = error instanceof Error ? error.name : 'Error';
  return {
    name,
    message: describeError(error),
    ...(error instanceof DivergenceError && session?.trainer.lastGoodStep !== undefined
      ? { lastGoodStep: session.trainer.lastGoodStep }
      : {}),
  };
}

self.addEventListener('message', (event: MessageEvent<Request>) => {
  const request = event.data;
  handle(request).then(
    ({ value, transfer }) => {
      postBuffers();
      post({ type: 'reply', id: request.id, ok: true, value }, transfer);
    },
    (error: unknown) => {
      postBuffers();
      post({ type: 'reply', id: request.id, ok: false, error: wire(error) });
    },
  );
});

setInterval(postBuffers, 500);
