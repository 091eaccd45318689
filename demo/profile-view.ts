/**
 * The GPU profile of one training step: a bar per dispatch (its GPU time from timestamp
 * queries), the share of the step per layer, and the samples per second the step's GPU time
 * allows. Without `timestamp-query` it says so, with the step's wall-clock time only.
 */
import type { StepProfile } from '../src/index.ts';
import { barRow, formatCount, setText } from './ui.ts';

/** `l2.backward_fused` → `l2`; `gather`, `sgd` stay themselves. */
function groupOf(label: string): string {
  return /^l\d+\./.test(label) ? label.slice(0, label.indexOf('.')) : label;
}

export class ProfileView {
  constructor(
    private readonly bars: HTMLElement,
    private readonly shares: HTMLElement,
    private readonly summary: HTMLElement,
    private readonly note: HTMLElement,
  ) {}

  /** What the device offers, said before any profile: Chrome rounds timestamps unless its developer features are on. */
  setDevice(timestamps: boolean | undefined): void {
    this.note.dataset.timestamps = String(Boolean(timestamps));
    setText(
      this.note,
      timestamps === undefined
        ? ''
        : timestamps
          ? 'GPU timestamps per dispatch. Chrome rounds them to 100 µs unless chrome://flags “WebGPU Developer Features” is on.'
          : 'This adapter has no timestamp queries (no “timestamp-query” feature): only the whole step’s time is known, not each dispatch’s.',
    );
  }

  show(p: StepProfile): void {
    this.bars.dataset.filled = 'true';
    this.bars.dataset.timestamps = String(p.timestamps);
    setText(
      this.summary,
      `${p.dispatches.length} dispatches, ${p.totalMs.toFixed(2)} ms ${p.timestamps ? 'of GPU time' : 'from submit to done'} for a batch of ${p.rows}: ${formatCount((p.rows / p.totalMs) * 1000)} samples/s`,
    );
    if (!p.timestamps) {
      this.bars.replaceChildren();
      this.shares.replaceChildren();
      return;
    }
    const max = Math.max(1e-9, ...p.dispatches.map((d) => d.ms));
    // The same dispatches every few seconds: their rows are kept, and only text and bar lengths change.
    if (this.bars.children.length !== p.dispatches.length)
      this.bars.replaceChildren(...p.dispatches.map(() => barRow('pbar', 'name').root));
    p.dispatches.forEach((d, i) => {
      const row = this.bars.children[i] as HTMLElement;
      row.dataset.ms = String(d.ms);
      const [name, track, value] = row.children as unknown as [HTMLElement, HTMLElement, HTMLElement];
      setText(name, d.label);
      (track.firstElementChild as HTMLElement).style.transform = `scaleX(${d.ms / max})`;
      setText(value, d.ms >= 1 ? d.ms.toFixed(1) : d.ms.toFixed(2));
    });
    const groups = new Map<string, number>();
    for (const d of p.dispatches) groups.set(groupOf(d.label), (groups.get(groupOf(d.label)) ?? 0) + d.ms);
    const total = Math.max(1e-9, p.totalMs);
    const shares = [...groups].map(([group, ms]) => `${group} ${Math.round((100 * ms) / total)}%`);
    if (this.shares.children.length !== shares.length) this.shares.replaceChildren(...shares.map(() => document.createElement('li')));
    shares.forEach((text, i) => setText(this.shares.children[i] as HTMLElement, text));
  }
}
