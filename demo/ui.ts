/**
 * Small DOM pieces of the page: element lookup, the message bar, the probability bars and the
 * per-epoch accuracy list. Everything updates text and CSS properties only, no re-layout of the page.
 */
export { formatDuration } from '../apps/shared/format.ts';

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** 575050 → "575,050". By hand: the first toLocaleString() loads ICU's number formats, ~40 ms of the page's start. */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+$)/g, ',');
}

export function formatPercent(fraction: number, digits = 1): string {
  return `${(100 * fraction).toFixed(digits)}%`;
}

/** Sets text only when it changed (cheap to call every frame). */
export function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export type Tone = 'info' | 'ok' | 'warn' | 'error';

/** The one-line message under the controls: what happened last, and what to do about it. */
export class MessageBar {
  constructor(private readonly element: HTMLElement) {}

  show(tone: Tone, text: string): void {
    this.element.dataset.tone = tone;
    this.element.hidden = false;
    setText(this.element, text);
  }

  clear(): void {
    this.element.hidden = true;
    this.element.textContent = '';
  }
}

/** A determinate bar, or an indeterminate one (`fraction` undefined). */
export function setProgress(bar: HTMLElement, fraction: number | undefined): void {
  bar.classList.toggle('indeterminate', fraction === undefined);
  const fill = bar.firstElementChild as HTMLElement;
  fill.style.transform = `scaleX(${fraction === undefined ? 1 : Math.min(1, Math.max(0, fraction))})`;
  bar.setAttribute('aria-valuenow', fraction === undefined ? '' : String(Math.round(fraction * 100)));
}

/** A labelled bar row, `<div class=P><span class=P-LABEL> <span class=P-track><span class=P-fill></span></span> <span class=P-value></div>`: the digit probabilities' and the GPU profile's. */
export function barRow(prefix: string, label: string): { root: HTMLElement; label: HTMLElement; fill: HTMLElement; value: HTMLElement } {
  const part = (tag: string, name: string) => {
    const e = document.createElement(tag);
    e.className = name;
    return e;
  };
  const root = part('div', prefix);
  const labelEl = part('span', `${prefix}-${label}`);
  const track = part('span', `${prefix}-track`);
  const fill = part('span', `${prefix}-fill`);
  track.append(fill);
  const value = part('span', `${prefix}-value`);
  root.append(labelEl, track, value);
  return { root, label: labelEl, fill, value };
}

/** Ten bars, one per class, the most likely highlighted. */
export class ProbabilityBars {
  private readonly rows: { root: HTMLElement; fill: HTMLElement; value: HTMLElement }[] = [];

  constructor(
    container: HTMLElement,
    private readonly verdict: HTMLElement,
  ) {
    for (let digit = 0; digit < 10; digit++) {
      const row = barRow('prob', 'digit');
      row.label.textContent = String(digit);
      container.append(row.root);
      this.rows.push(row);
    }
    this.show(undefined, 'Draw a digit in the box.');
  }

  /** Shows `probs` (ten values), or clears the bars and shows `hint`. */
  show(probs: Float32Array | undefined, hint = ''): void {
    let best = -1;
    if (probs) for (let i = 0; i < 10; i++) if (best < 0 || probs[i]! > probs[best]!) best = i;
    for (const [i, row] of this.rows.entries()) {
      const p = probs?.[i];
      row.fill.style.transform = `scaleX(${p ?? 0})`;
      row.value.textContent = p === undefined ? '' : formatPercent(p, p >= 0.995 || p < 0.001 ? 0 : 1);
      row.root.classList.toggle('best', i === best);
      if (p === undefined) delete row.root.dataset.prob;
      else row.root.dataset.prob = String(p);
    }
    if (probs) {
      this.verdict.textContent = `Looks like a ${best} (${formatPercent(probs[best]!, 0)})`;
      this.verdict.dataset.digit = String(best);
    } else {
      this.verdict.textContent = hint;
      delete this.verdict.dataset.digit;
    }
  }
}

/** Test accuracy after each epoch: a row with a bar per epoch. */
export class AccuracyList {
  constructor(
    private readonly list: HTMLElement,
    private readonly headline: HTMLElement,
  ) {}

  add(epoch: number, accuracy: number, loss: number, note = ''): void {
    const row = document.createElement('li');
    row.dataset.epoch = String(epoch);
    row.dataset.accuracy = String(accuracy);
    const name = document.createElement('span');
    name.textContent = note || `Epoch ${epoch}`;
    const track = document.createElement('span');
    track.className = 'acc-track';
    const fill = document.createElement('span');
    fill.className = 'acc-fill';
    fill.style.transform = `scaleX(${accuracy})`;
    track.append(fill);
    const value = document.createElement('span');
    value.className = 'acc-value';
    value.textContent = formatPercent(accuracy, 2);
    value.title = `test loss ${loss.toFixed(4)}`;
    row.append(name, track, value);
    this.list.append(row);
    this.headline.textContent = formatPercent(accuracy, 2);
    this.headline.dataset.accuracy = String(accuracy);
  }

  /** The last accuracy shown, if any. */
  get latest(): number | undefined {
    const value = this.headline.dataset.accuracy;
    return value === undefined ? undefined : Number(value);
  }

  /** Keeps the rows of the first `epochs` epochs (and of weights loaded before them). */
  truncate(epochs: number): void {
    for (const row of [...this.list.children] as HTMLElement[]) {
      if (Number(row.dataset.epoch) > epochs) row.remove();
    }
    this.showLatest();
  }

  clear(): void {
    this.list.replaceChildren();
    this.showLatest();
  }

  private showLatest(): void {
    const last = this.list.lastElementChild as HTMLElement | null;
    this.headline.textContent = last ? formatPercent(Number(last.dataset.accuracy), 2) : '–';
    if (last) this.headline.dataset.accuracy = last.dataset.accuracy!;
    else delete this.headline.dataset.accuracy;
  }
}
