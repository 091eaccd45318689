/**
 * Runs compared: the runs finished in this session and those saved in the browser, each labelled
 * with its settings; ticked ones are overlaid on the loss and accuracy charts. Also the loss
 * history as CSV (the charts' PNG comes from the chart worker).
 */
import type { Overlay } from './chart.ts';
import { describeSettings, type RunHistory, type RunInfo } from './protocol.ts';
import { formatPercent } from './ui.ts';

const COLORS = ['#8a5cd6', '#1f9d55', '#d64590', '#b7791f', '#2a9bb7', '#6b7280'];

export function downloadBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** One row per step: its training loss, and at an epoch's last step the test loss and accuracy. */
export function lossCsv(h: RunHistory, stepsPerEpoch: number): string {
  const tests = new Map(h.tests.map((t) => [t.step, t]));
  const rows = ['step,epoch,train_loss,test_loss,test_accuracy'];
  for (let i = 0; i < h.losses.length; i++) {
    const t = tests.get(i + 1);
    rows.push(`${i + 1},${Math.floor(i / stepsPerEpoch) + 1},${h.losses[i]},${t ? t.loss : ''},${t ? t.accuracy : ''}`);
  }
  return `${rows.join('\n')}\n`;
}

export class RunsPanel {
  private readonly runs = new Map<string, { run: RunInfo; color: string; shown: boolean; saved: boolean }>();

  constructor(
    private readonly list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly onOverlays: (overlays: Overlay[]) => void,
  ) {}

  /** A run finished (or was reset) in this session: listed, and overlaid at once. */
  add(run: RunInfo, saved = false): void {
    if (run.history.losses.length === 0) return;
    const known = this.runs.get(run.id);
    this.runs.set(run.id, { run, color: known?.color ?? COLORS[this.runs.size % COLORS.length]!, shown: known?.shown ?? !saved, saved });
    this.render();
  }

  /** The finished runs saved in the browser (shown unticked). */
  setSaved(runs: readonly RunInfo[]): void {
    for (const [id, r] of this.runs) if (r.saved) this.runs.delete(id);
    for (const run of runs) if (!this.runs.has(run.id)) this.add(run, true);
    this.render();
  }

  clearSaved(): void {
    for (const [id, r] of this.runs) if (r.saved) this.runs.delete(id);
    this.render();
  }

  private render(): void {
    this.empty.hidden = this.runs.size > 0;
    this.list.replaceChildren(
      ...[...this.runs.values()].map((r) => {
        const li = document.createElement('li');
        li.dataset.runId = r.run.id;
        const label = document.createElement('label');
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.checked = r.shown;
        box.addEventListener('change', () => {
          r.shown = box.checked;
          this.emit();
        });
        const key = document.createElement('i');
        key.className = 'run-key';
        key.style.background = r.color;
        const last = r.run.history.tests.at(-1);
        const text = document.createElement('span');
        text.textContent = `${describeSettings(r.run.settings)} · ${r.run.epoch} epoch${r.run.epoch === 1 ? '' : 's'}${last ? ` · ${formatPercent(last.accuracy, 2)}` : ''}${r.saved ? ' · saved' : ''}`;
        label.append(box, key, text);
        li.append(label);
        return li;
      }),
    );
    this.emit();
  }

  private emit(): void {
    this.onOverlays(
      [...this.runs.values()]
        .filter((r) => r.shown)
        .map((r) => ({
          label: describeSettings(r.run.settings),
          color: r.color,
          losses: r.run.history.losses,
          tests: r.run.history.tests,
        })),
    );
  }
}
