/** A one-line progress bar on a TTY (stderr), redrawn in place; silent elsewhere. */
export class ProgressBar {
  private lastDraw = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(fraction: number, text: string, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const columns = this.stream.columns || 100;
    // The figures matter more than the bar: it shrinks (down to nothing) before the text is cut.
    const width = Math.max(0, Math.min(24, columns - text.length - 4));
    const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
    const bar = width > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    this.stream.write(`\r${(bar + text).slice(0, columns - 1)}\x1b[K`);
    this.shown = true;
  }

  /** Clears the bar so that a normal line can be printed. */
  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
