/**
 * The Data box: MNIST from the server or from files a person drops or picks. The page never
 * holds the bytes: the worker fetches the server's files itself and reads the picked ones from
 * their File handles, then decodes them.
 */
import { DroppedFiles } from './data.ts';
import type { Engine } from './engine.ts';
import type { Command } from './protocol.ts';
import type { GridUpdate } from './protocol.ts';
import { byId, formatCount, setProgress, setText } from './ui.ts';

export interface DataPanelHooks {
  /** whether other data may be loaded now (not while training) */
  canLoad(): boolean;
  /** before new data replaces the old: drop the run */
  beforeReplace(): Promise<void>;
  ready(grid: GridUpdate): void;
  warn(text: string): void;
}

export class DataPanel {
  private readonly box = byId('data-box');
  private readonly status = byId('data-status');
  private readonly progress = byId('data-progress');
  private readonly dropped = new DroppedFiles();
  loaded = false;

  constructor(
    private readonly engine: Engine,
    private readonly knobs: { subset: number | undefined; test: number | undefined },
    private readonly hooks: DataPanelHooks,
  ) {}

  state(state: 'loading' | 'ready' | 'needed' | 'error', text: string, fraction?: number): void {
    this.box.dataset.state = state;
    setText(this.status, text);
    setProgress(this.progress, fraction);
  }

  async fromServer(): Promise<void> {
    const base = new URL('mnist/', document.baseURI);
    this.state('loading', 'Looking for MNIST on the server…');
    try {
      await this.send({ server: base.href }, 'from the server');
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (error instanceof Error && error.name === 'DataNotOnServer') {
        this.state(
          'needed',
          `No MNIST on this server (${why}). Choose or drop the four files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz.`,
        );
      } else this.state('error', `Could not load MNIST from the server: ${why}. Choose or drop the four .gz files instead.`);
    }
  }

  async fromFiles(files: File[]): Promise<void> {
    if (!this.hooks.canLoad()) return this.hooks.warn('Pause or reset the training before loading other data.');
    const ignored = this.dropped.add(files);
    const note = ignored.length ? ` (${ignored.join(', ')}: not an MNIST file name)` : '';
    const missing = this.dropped.missing;
    if (missing.length) {
      const names = missing.map((m) => `${m}.gz`).join(', ');
      return this.state('needed', `Got ${4 - missing.length} of the 4 files${note}; still missing: ${names}.`);
    }
    try {
      const files = this.dropped.named();
      await this.hooks.beforeReplace();
      await this.send({ files }, 'from your files');
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.state('error', `${why}. Choose the four original MNIST files (.gz or uncompressed).`);
    } finally {
      this.dropped.clear();
    }
  }

  private async send(from: Extract<Command, { type: 'data' }>['source'], source: string): Promise<void> {
    const { subset, test } = this.knobs;
    const r = await this.engine.call({ type: 'data', source: from, ...(subset ? { subset } : {}), ...(test ? { test } : {}) });
    this.loaded = true;
    const cut = subset || test ? ' (a subset, from the URL)' : '';
    this.state('ready', `${formatCount(r.trainCount)} training and ${formatCount(r.testCount)} test images ${source}${cut}.`, 1);
    this.hooks.ready(r.grid);
  }
}
