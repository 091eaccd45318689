/**
 * What the page does besides training itself: offering and continuing a saved run, clearing saved
 * runs, the GPU profile, the CSV export, saving and loading weights. main.ts's App adds training.
 */
import type { Engine } from './engine.ts';
import { downloadBlob, lossCsv } from './runs.ts';
import { formatCount, formatPercent, setText } from './ui.ts';
import { PageView } from './view.ts';

export abstract class PageActions extends PageView {
  protected abstract readonly engine: Engine;
  /** goes on training the current run */
  protected abstract resume(): void;
  protected abstract requestPrediction(): void;

  // ---- saved runs ---------------------------------------------------------------------------

  protected async offerSaved(): Promise<void> {
    if (!this.device) return;
    const saved = await this.engine.call({ type: 'saved' });
    this.runs.setSaved(saved.finished);
    if (saved.problems.length) this.say('warn', `A saved run could not be read and was ignored: ${saved.problems.join('; ')}.`);
    const r = saved.resumable;
    this.el.resumeBox.hidden = !r || r.completed || !this.dataLoaded;
    if (!r) return;
    this.el.resumeBox.dataset.step = String(r.globalStep);
    const o = r.settings.optimizer;
    setText(
      this.el.resumeText,
      `Continue the run from epoch ${r.stepInEpoch ? r.epoch + 1 : r.epoch}, step ${r.globalStep} (of ${r.settings.epochs * r.stepsPerEpoch}; ${r.settings.layers.join('-')}, ${o.kind} lr ${o.lr}, batch ${r.settings.batchSize}).`,
    );
  }

  protected async resumeSaved(): Promise<void> {
    this.setPhase('busy');
    const { run, grid } = await this.engine.call({ type: 'resume-saved' });
    this.el.resumeBox.hidden = true;
    this.form.show(run.settings);
    this.adopt(run, grid);
    this.resume();
  }

  protected async clearSaved(): Promise<void> {
    await this.engine.call({ type: 'clear-saved' });
    this.runs.clearSaved();
    this.el.resumeBox.hidden = true;
    this.say('ok', 'Saved runs cleared.');
  }

  protected async profileNow(): Promise<void> {
    if (!this.run || !this.device) return;
    this.lastProfile = performance.now();
    try {
      this.profile.show(await this.engine.call({ type: 'profile' }));
    } catch (error) {
      // A profile cut short by a device loss or a reset says nothing new: the page reports those itself.
      if (this.deviceLost || !this.run || this.phase === 'lost') return;
      throw error;
    }
  }

  protected exportCsv(): void {
    const run = this.run;
    if (!run) return;
    const csv = lossCsv({ losses: this.chart.losses, tests: this.tests }, run.stepsPerEpoch);
    downloadBlob(`mnist-loss-${run.id}.csv`, new Blob([csv], { type: 'text/csv' }));
  }

  // ---- weights ------------------------------------------------------------------------------

  protected async save(): Promise<void> {
    const { name, bytes } = await this.engine.call({ type: 'save-weights' });
    downloadBlob(name, new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    this.say('ok', `Saved ${name} (${(bytes.length / 1e6).toFixed(1)} MB).`);
  }

  protected async loadWeights(file: File): Promise<void> {
    if (!this.device || !this.dataLoaded) return this.say('warn', 'Loading weights needs the data and a GPU device first.');
    if (this.fitting || this.phase === 'busy' || this.phase === 'lost')
      return this.say('warn', 'Pause the training before loading weights.');
    const previous = this.phase;
    this.setPhase('busy');
    let r;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      r = await this.engine.call({ type: 'load-weights', name: file.name, bytes, settings: this.run?.settings ?? this.form.read() });
    } catch (error) {
      this.setPhase(previous);
      throw error;
    }
    if (!this.run) this.adopt(r.run, undefined);
    this.run = r.run;
    this.accuracy.add(r.run.epoch, r.accuracy, r.loss, 'Loaded');
    this.grid.set(r.grid);
    this.setPhase(previous === 'idle' ? 'ready' : previous === 'diverged' || previous === 'failed' ? 'paused' : previous);
    this.requestPrediction();
    this.say('ok', `Loaded ${file.name}: test accuracy ${formatPercent(r.accuracy, 2)} on ${formatCount(r.count)} test images.`);
  }
}
