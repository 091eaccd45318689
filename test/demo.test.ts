/**
 * The demo page in a real browser: builds it (`vite build`), serves dist/demo with the MNIST
 * directory mounted at /mnist/, and drives it in headless Chromium (system Chromium with WebGPU;
 * SwiftShader on machines without a GPU). A small configuration (`?subset=2000&test=1000`) keeps
 * it to about two minutes there. Any console error or page error fails the test.
 * Screenshots go to test/artifacts/demo/.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, findChromium, serveStatic } from '../apps/shared/chromium.ts';
import { SEED_LAYERS } from '../src/model/layout.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/model/io/safetensors.ts';
import { MNIST_DIR, ROOT } from './helpers.ts';

const DIST = join(ROOT, 'dist/demo');
const ARTIFACTS = join(ROOT, 'test/artifacts/demo');
// SwiftShader on a 2-core machine trains at about 50 samples/s: keep the data small.
const TRAIN_SUBSET = 384;
const TEST_SUBSET = 300;
const BATCH = 16;
const STEPS_PER_EPOCH = Math.ceil(TRAIN_SUBSET / BATCH);

let server: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let page: Page;
let downloads: string;
const problems: string[] = [];

/** A step of the test fails with what the page says, not just "timeout". */
async function waitFor(what: string, timeoutMs: number, predicate: string): Promise<void> {
  try {
    await page.waitForFunction(predicate, { timeout: timeoutMs, polling: 100 });
  } catch (error) {
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; the page says: ${await pageState()}`, { cause: error });
  }
}

async function pageState(): Promise<string> {
  return page
    .evaluate(() => {
      const text = (id: string) => document.getElementById(id)?.textContent?.trim() ?? '';
      return `phase ${document.getElementById('phase')?.dataset.phase} “${text('phase')}”, message “${text('message')}”, data “${text('data-status')}”, adapter “${text('adapter-name')}”, ${text('diagnostics')}`;
    })
    .catch((error: unknown) => `(unreadable: ${String(error)})`);
}

function expectNoProblems(): void {
  expect(problems, 'console errors or page errors').toEqual([]);
}

const text = (selector: string) => page.$eval(selector, (e) => e.textContent?.trim() ?? '');
const phase = () => page.$eval('#phase', (e) => (e as HTMLElement).dataset.phase);

async function setInput(id: string, value: string): Promise<void> {
  await page.$eval(
    `#${id}`,
    (e, v) => {
      const input = e as HTMLInputElement;
      input.value = v;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    },
    value,
  );
}

async function click(id: string): Promise<void> {
  const disabled = await page.$eval(`#${id}`, (e) => (e as HTMLButtonElement).disabled);
  expect(disabled, `#${id} is disabled (${await pageState()})`).toBe(false);
  await page.click(`#${id}`);
}

/** Draws a 7 on the pad with the mouse (or with a finger, `touch`). */
async function drawSeven(touch = false): Promise<void> {
  await page.$eval('#pad', (e) => e.scrollIntoView({ block: 'center' }));
  const box = (await (await page.$('#pad'))!.boundingBox())!;
  const at = (fx: number, fy: number) => ({ x: box.x + fx * box.width, y: box.y + fy * box.height });
  const path = [at(0.28, 0.22), at(0.5, 0.22), at(0.72, 0.22), at(0.6, 0.45), at(0.5, 0.65), at(0.44, 0.82)];
  if (touch) {
    await page.touchscreen.touchStart(path[0]!.x, path[0]!.y);
    for (const p of path.slice(1)) await page.touchscreen.touchMove(p.x, p.y);
    await page.touchscreen.touchEnd();
  } else {
    await page.mouse.move(path[0]!.x, path[0]!.y);
    await page.mouse.down();
    for (const p of path.slice(1)) await page.mouse.move(p.x, p.y, { steps: 6 });
    await page.mouse.up();
  }
}

async function probabilities(): Promise<number[]> {
  return page.$$eval('#probs .prob', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.prob)));
}

async function fileInput(id: string) {
  const input = await page.$(`input#${id}`);
  if (!input) throw new Error(`the page has no input#${id}`);
  return input;
}

/** Probabilities are shown, and no newer ones are on their way. */
const PROBS_SHOWN = `document.querySelectorAll('#probs .prob[data-prob]').length === 10 && !document.getElementById('probs').dataset.busy`;
const liveBuffers = () => page.evaluate(() => (window as unknown as { __demo: { liveBuffers(): number } }).__demo.liveBuffers());

async function screenshot(name: string): Promise<string> {
  const file = join(ARTIFACTS, name);
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  return file;
}

describe('demo page (built, in headless Chromium)', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // The test builds what it serves, so it never tests a stale dist/demo.
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'demo/vite.config.ts', '--logLevel', 'warn'],
      {
        cwd: ROOT,
        timeout: 90_000,
      },
    );
    if (!existsSync(join(MNIST_DIR, 'train-images-idx3-ubyte.gz'))) throw new Error(`no MNIST in ${MNIST_DIR} (set MNIST_DIR)`);
    server = await serveStatic({ '/': DIST, '/mnist/': MNIST_DIR });
    downloads = await mkdtemp(join(tmpdir(), 'demo-downloads-'));
    browser = await puppeteer.launch({ executablePath: findChromium(), args: chromiumArgs(), headless: true, protocolTimeout: 150_000 });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url ?? ''})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
    await page.setViewport({ width: 1280, height: 800 });
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  }, 150_000);

  afterAll(async () => {
    if (page && problems.length) await screenshot('failure.png').catch(() => {});
    await browser?.close();
    await server?.close();
    if (downloads) await rm(downloads, { recursive: true, force: true });
  });

  it('the build is a static site: no data in it, a strict CSP, no inline script', async () => {
    const files = await readdir(DIST, { recursive: true });
    expect(
      files.some((f) => /idx\d-ubyte/.test(f)),
      'MNIST files in the build',
    ).toBe(false);
    let bytes = 0;
    for (const f of files) bytes += (await stat(join(DIST, f))).size;
    expect(bytes, 'build size').toBeLessThan(2_000_000);
    const html = await readFile(join(DIST, 'index.html'), 'utf8');
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="[^"]*script-src &#39;self&#39;/);
    expect(html).toMatch(/connect-src &#39;self&#39;/);
    expect(
      html.match(/<script\b[^>]*>/g)?.every((tag) => /\ssrc=/.test(tag)),
      'every script has a src',
    ).toBe(true);
  });

  it('loads the data from the server and shows the adapter', async () => {
    await page.goto(`${server!.url}/?subset=${TRAIN_SUBSET}&test=${TEST_SUBSET}&debug`, { waitUntil: 'load', timeout: 30_000 });
    await waitFor('MNIST to load', 60_000, `document.getElementById('data-box').dataset.state === 'ready'`);
    expect(await text('#data-status')).toContain('384 training and 300 test images from the server');
    await waitFor('an adapter', 30_000, `['ok', 'fallback'].includes(document.getElementById('adapter').dataset.state)`);
    expect(await text('#adapter-name')).not.toBe('');
    expect(await text('#adapter-detail')).toMatch(/hardware adapter|software \(fallback\) adapter/);
    expect(await page.$eval('#no-webgpu', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await page.$$eval('#grid .tile:not([hidden])', (t) => t.length)).toBe(48);
    expect(await phase()).toBe('idle');
    expect(await liveBuffers()).toBe(0);
    expectNoProblems();
  }, 100_000);

  it('trains, with Pause and Resume: loss curve, stats, progress, accuracy per epoch, predictions grid', async () => {
    await setInput('epochs', '3');
    await setInput('batch-size', String(BATCH));
    await setInput('lr', '0.05');
    await setInput('momentum', '0.9');
    await setInput('seed', '7');
    await click('start');
    await waitFor('the first losses on the chart', 60_000, `Number(document.getElementById('loss-chart').dataset.points) > 0`);
    expect(await phase()).toBe('running');
    await click('pause');
    await waitFor('the pause', 30_000, `document.getElementById('phase').dataset.phase === 'paused'`);
    expect(await text('#pause')).toBe('Resume');
    expect(await page.$eval('#batch-size', (e) => (e as HTMLInputElement).disabled), 'settings are fixed once trained').toBe(true);
    const pausedAt = Number(await page.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.points));
    expect(pausedAt).toBeLessThan(3 * STEPS_PER_EPOCH);
    await click('pause');
    await waitFor('training to finish', 120_000, `document.getElementById('phase').dataset.phase === 'done'`);

    expect(Number(await page.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.points))).toBe(3 * STEPS_PER_EPOCH);
    const rows = await page.$$eval('#accuracy-list li', (li) => li.map((l) => Number((l as HTMLElement).dataset.accuracy)));
    expect(rows).toHaveLength(3);
    expect(rows[2]!, 'test accuracy after 3 epochs on 384 images (chance is 0.1)').toBeGreaterThan(0.3);
    expect(await text('#accuracy')).toMatch(/^\d+\.\d\d%$/);
    expect(await text('#stat-epoch')).toBe('3 / 3');
    expect(await text('#stat-eta')).toBe('done');
    expect(await text('#stat-loss')).toMatch(/^\d+\.\d{3}$/);
    expect(await text('#stat-speed')).toMatch(/^[\d,]+$/);
    expect(await text('#stat-elapsed')).toMatch(/^\d+:\d\d$/);
    expect(await page.$eval('#train-progress span', (e) => (e as HTMLElement).style.transform)).toBe('scaleX(1)');
    const tiles = await page.$$eval('#grid .tile', (t) => t.map((e) => e.className));
    expect(
      tiles.every((c) => /right|wrong/.test(c)),
      'every tile has a prediction',
    ).toBe(true);
    expect(await text('#message')).toMatch(/^Done: 3 epochs/);
    expectNoProblems();
  }, 240_000);

  let trainedAccuracy = 0;

  it('shows the class probabilities of a digit drawn with the mouse', async () => {
    await drawSeven();
    await waitFor('probabilities of the drawing', 20_000, PROBS_SHOWN);
    const drawnProbs = await probabilities();
    expect(drawnProbs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(await page.$eval('#verdict', (e) => (e as HTMLElement).dataset.digit)).toMatch(/^\d$/);
    // What the model sees: some ink in the 28×28 preview.
    const ink = await page.$eval('#seen', (c) => {
      const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let sum = 0;
      for (let i = 3; i < data.length; i += 4) sum += data[i]!;
      return sum / 255;
    });
    expect(ink).toBeGreaterThan(20);
    trainedAccuracy = Number(await page.$eval('#accuracy', (e) => (e as HTMLElement).dataset.accuracy));
    console.log(`demo: trained test accuracy ${trainedAccuracy}, drawing read as ${drawnProbs.indexOf(Math.max(...drawnProbs))}`);
    console.log(`demo: screenshot ${await screenshot('desktop-1280x800.png')}`);
    expectNoProblems();
  }, 40_000);

  it('is readable at phone width, and draws with touch', async () => {
    // Not isMobile/hasTouch: changing those makes puppeteer reload the page, and the trained model with it.
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2 });
    await waitFor('the layout to settle', 5_000, `document.documentElement.clientWidth === 390`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'horizontal overflow at 390 px').toBeLessThanOrEqual(0);
    await page.click('#clear');
    await waitFor(
      'the probabilities to clear',
      10_000,
      `document.querySelectorAll('#probs .prob[data-prob]').length === 0 && !document.getElementById('probs').dataset.busy`,
    );
    await drawSeven(true);
    await waitFor('probabilities of the touch drawing', 20_000, PROBS_SHOWN);
    console.log(`demo: screenshot ${await screenshot('phone-390.png')}`);
    await page.setViewport({ width: 1280, height: 800 });
    await page.click('#clear');
    await drawSeven();
    await waitFor('probabilities of the drawing', 20_000, PROBS_SHOWN);
    expectNoProblems();
  }, 60_000);

  it('saves the weights, and after Reset (no GPU buffers left) loads them back with the same results', async () => {
    const drawnProbs = await probabilities();
    await click('save');
    let saved = '';
    for (let i = 0; i < 100 && !saved; i++) {
      const done = (await readdir(downloads)).filter((f) => f.endsWith('.safetensors'));
      saved = done[0] ? join(downloads, done[0]) : '';
      if (!saved) await new Promise((r) => setTimeout(r, 100));
    }
    expect(saved, 'a .safetensors download').not.toBe('');
    expect(saved).toMatch(/mnist-mlp-epoch3\.safetensors$/);
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(saved)), saved);
    expect(metadata.layers).toBe(SEED_LAYERS.join(','));
    expect(tensors.get('l1.weight')?.shape).toEqual([512, 784]);
    expect(tensors.get('l5.bias')?.shape).toEqual([10]);

    await click('reset');
    await waitFor('the reset', 20_000, `document.getElementById('phase').dataset.phase === 'idle'`);
    await waitFor('all GPU buffers to be freed', 10_000, `window.__demo.liveBuffers() === 0`);
    expect(await page.$$eval('#accuracy-list li', (li) => li.length)).toBe(0);
    await waitFor(
      'the drawing to ask for a model',
      10_000,
      `document.querySelectorAll('#probs .prob[data-prob]').length === 0 && !document.getElementById('probs').dataset.busy`,
    );

    await (await fileInput('load')).uploadFile(saved);
    await waitFor('the weights to load', 60_000, `/^Loaded /.test(document.getElementById('message').textContent)`);
    expect(await phase()).toBe('ready');
    expect(Number(await page.$eval('#accuracy', (e) => (e as HTMLElement).dataset.accuracy)), 'accuracy of the reloaded weights').toBe(
      trainedAccuracy,
    );
    await waitFor('probabilities from the reloaded weights', 20_000, PROBS_SHOWN);
    const reloaded = await probabilities();
    for (let i = 0; i < 10; i++) expect(Math.abs(reloaded[i]! - drawnProbs[i]!), `class ${i}`).toBeLessThan(1e-5);
    expectNoProblems();
  }, 120_000);

  it('refuses weights of another network and files that are not safetensors, with a message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-bad-'));
    try {
      const small = join(dir, 'small.safetensors');
      await writeFile(
        small,
        encodeSafetensors([
          ['l1.weight', { shape: [10, 784], data: new Float32Array(7840) }],
          ['l1.bias', { shape: [10], data: new Float32Array(10) }],
        ]),
      );
      await (await fileInput('load')).uploadFile(small);
      await waitFor('the error about layer sizes', 20_000, `document.getElementById('message').dataset.tone === 'error'`);
      expect(await text('#message')).toContain('small.safetensors holds a 784-10 network; this page trains 784-512-256-128-64-10');
      const junk = join(dir, 'junk.safetensors');
      await writeFile(junk, 'this is not a safetensors file');
      await (await fileInput('load')).uploadFile(junk);
      await waitFor('the error about the file', 20_000, `/^junk\\.safetensors: /.test(document.getElementById('message').textContent)`);
      expect(await phase(), 'a bad file leaves the loaded weights alone').toBe('ready');
      expectNoProblems();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('repeated Start/Reset cycles free all their GPU buffers', async () => {
    await setInput('epochs', '1');
    await click('reset');
    await waitFor('the reset', 20_000, `document.getElementById('phase').dataset.phase === 'idle'`);
    for (let cycle = 0; cycle < 2; cycle++) {
      await click('start');
      await waitFor('training to run', 60_000, `Number(document.getElementById('loss-chart').dataset.points) > 0`);
      expect(await liveBuffers()).toBeGreaterThan(10);
      await click('reset');
      await waitFor(`the reset of cycle ${cycle + 1}`, 30_000, `document.getElementById('phase').dataset.phase === 'idle'`);
      await waitFor(`all GPU buffers to be freed after cycle ${cycle + 1}`, 10_000, `window.__demo.liveBuffers() === 0`);
      expect(await text('#diagnostics')).toMatch(/^GPU buffers live: 0 /);
    }
    expectNoProblems();
  }, 150_000);

  it('on divergence shows the message and keeps the rolled-back weights usable', async () => {
    await setInput('epochs', '1');
    await setInput('lr', '1000');
    await click('start');
    await waitFor('the divergence', 60_000, `document.getElementById('phase').dataset.phase === 'diverged'`);
    const message = await text('#message');
    expect(message).toMatch(
      /^training diverged: the loss of step \d+ is (NaN|-?Infinity) \(try a smaller learning rate\)\. The weights were rolled back to /,
    );
    expect(await text('#pause')).toBe('Resume');
    expect(await page.$eval('#lr', (e) => (e as HTMLInputElement).disabled), 'the learning rate can be lowered').toBe(false);
    expect(await page.$eval('#save', (e) => (e as HTMLButtonElement).disabled), 'the weights can be saved').toBe(false);
    await waitFor('probabilities from the rolled-back weights', 20_000, PROBS_SHOWN);
    const probs = await probabilities();
    expect(probs.every(Number.isFinite), `finite probabilities: ${probs.join(', ')}`).toBe(true);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    await setInput('lr', '0.05');
    await click('reset');
    await waitFor('the reset', 30_000, `document.getElementById('phase').dataset.phase === 'idle'`);
    await waitFor('all GPU buffers to be freed', 10_000, `window.__demo.liveBuffers() === 0`);
    expectNoProblems();
  }, 120_000);

  it('survives a lost device: Restart and continue from the weights kept at the last epoch end', async () => {
    await setInput('epochs', '2');
    expect(await page.$$eval('#accuracy-list li', (li) => li.length), 'accuracy rows before Start').toBe(0);
    await click('start');
    await waitFor('the first epoch', 90_000, `document.querySelectorAll('#accuracy-list li').length === 1`);
    await page.evaluate(() => (window as unknown as { __demo: { loseDevice(): void } }).__demo.loseDevice());
    await waitFor('the device-loss message', 30_000, `document.getElementById('phase').dataset.phase === 'lost'`);
    expect(await text('#message')).toContain('Restart and continue');
    expect(await text('#restart')).toBe('Restart and continue');
    await click('restart');
    await waitFor('training to finish after the restart', 120_000, `document.getElementById('phase').dataset.phase === 'done'`);
    expect(await page.$$eval('#accuracy-list li', (li) => li.length)).toBe(2);
    expect(Number(await page.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.points))).toBe(2 * STEPS_PER_EPOCH);
    expect(await page.$eval('#adapter', (e) => (e as HTMLElement).dataset.state)).not.toBe('lost');
    expectNoProblems();
  }, 240_000);

  it('loads MNIST from files the user picks (offline), and names a bad file', async () => {
    const real = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map(
      (f) => join(MNIST_DIR, f),
    );
    const dir = await mkdtemp(join(tmpdir(), 'demo-mnist-'));
    try {
      const bad = join(dir, 't10k-labels-idx1-ubyte.gz');
      await writeFile(bad, new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]));
      const input = await fileInput('data-files');
      await input.uploadFile(real[0]!, real[1]!);
      await waitFor('the missing-files note', 10_000, `/still missing/.test(document.getElementById('data-status').textContent)`);
      await input.uploadFile(real[2]!, bad);
      await waitFor('the bad-file message', 30_000, `document.getElementById('data-box').dataset.state === 'error'`);
      expect(await text('#data-status')).toContain('t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip data');
      await input.uploadFile(...real);
      await waitFor('the files to load', 60_000, `document.getElementById('data-box').dataset.state === 'ready'`);
      expect(await text('#data-status')).toContain('384 training and 300 test images from your files');
      expect(await phase()).toBe('idle');
      await waitFor('all GPU buffers to be freed', 10_000, `window.__demo.liveBuffers() === 0`);
      expectNoProblems();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
