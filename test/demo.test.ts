/**
 * The demo page in a real browser: builds it (`vite build`), serves dist/demo with the MNIST
 * directory mounted at /mnist/, and drives it in headless Chromium (system Chromium with WebGPU;
 * SwiftShader on machines without a GPU). The engine runs in the page's worker. Small data
 * (`?subset=384&test=300`) keeps most cases short; only the main-thread measurement (long tasks,
 * frame gaps) trains on the full data set, for 30 s. Any console error or page error fails the
 * test. Screenshots go to test/artifacts/demo/.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, findChromium, serveStatic } from '../apps/shared/chromium.ts';
import { SEED_LAYERS } from '../src/model/layout.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/model/io/safetensors.ts';
import { browserSettled, cpuSeconds, hostSpeed, pageLongTasks, SLOW_HOST_MS, softwareGpuAtPagePriority } from './demo-host.ts';
import { MNIST_DIR, ROOT } from './helpers.ts';

const DIST = join(ROOT, 'dist/demo');
const ARTIFACTS = join(ROOT, 'test/artifacts/demo');
// SwiftShader on a 2-core machine trains ~300 samples/s at batch 16 and ~770 at 64 (~90 before the 2026-12-02 row blocks): keep the data small.
const TRAIN_SUBSET = 384;
const TEST_SUBSET = 300;
const BATCH = 16;
const STEPS_PER_EPOCH = Math.ceil(TRAIN_SUBSET / BATCH);

let server: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let page: Page;
/** the weights' hash after the uninterrupted (paused and resumed) 3-epoch run */
let uninterrupted = '';
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
const weightsHash = () => page.evaluate(() => (window as unknown as { __demo: { weightsHash(): Promise<string> } }).__demo.weightsHash());
const SMALL = `?subset=${TRAIN_SUBSET}&test=${TEST_SUBSET}&debug`;

/** Downloads whose names match, waiting up to 10 s for the first. */
async function downloaded(pattern: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const done = (await readdir(downloads)).filter((f) => pattern.test(f) && !f.endsWith('.crdownload'));
    if (done[0]) return join(downloads, done[0]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no download matching ${pattern}`);
}

function watch(p: Page): void {
  p.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url ?? ''})`);
  });
  p.on('pageerror', (error) => problems.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
}

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
    watch(page);
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
    expect(html, 'the engine worker is allowed').toMatch(/worker-src &#39;self&#39;/);
    expect(
      files.some((f) => /^assets\/worker-.*\.js$/.test(f.replace(/\\/g, '/'))),
      'a worker script in the build',
    ).toBe(true);
    expect(
      html.match(/<script\b[^>]*>/g)?.every((tag) => /\ssrc=/.test(tag)),
      'every script has a src',
    ).toBe(true);
  });

  it('loads the data from the server and shows the adapter', async () => {
    await page.goto(`${server!.url}/${SMALL}`, { waitUntil: 'load', timeout: 30_000 });
    await waitFor('MNIST to load', 60_000, `document.getElementById('data-box').dataset.state === 'ready'`);
    expect(await text('#data-status')).toContain('384 training and 300 test images from the server');
    await waitFor('an adapter', 30_000, `['ok', 'fallback'].includes(document.getElementById('adapter').dataset.state)`);
    expect(await text('#adapter-name')).not.toBe('');
    expect(await text('#adapter-detail')).toMatch(/hardware adapter|software \(fallback\) adapter/);
    expect(await page.$eval('#no-webgpu', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await page.$$eval('#grid .tile:not([hidden])', (t) => t.length)).toBe(48);
    expect(await phase()).toBe('idle');
    expect(await liveBuffers()).toBe(0);
    // The engine is in a worker: the page has one, and the device lives there.
    expect(page.workers().map((w) => w.url())).toEqual(expect.arrayContaining([expect.stringMatching(/\/assets\/worker-[^/]*\.js$/)]));
    expect(await page.$eval('#adapter', (e) => (e as HTMLElement).title)).toContain("engine's worker");
    expect(await text('#param-count')).toBe('784-512-256-128-64-10: 575,050 parameters');
    expectNoProblems();
  }, 100_000);

  it('checks the layer sizes as they are typed, with the parameter count', async () => {
    await setInput('layers', '100, 0');
    expect(await text('#param-count')).toMatch(/^a layer size must be a whole number from 1 to 4096, got “0”$/);
    expect(await page.$eval('#layers', (e) => e.getAttribute('aria-invalid'))).toBe('true');
    await setInput('layers', '32');
    expect(await text('#param-count')).toBe('784-32-10: 25,450 parameters');
    await setInput('layers', '512, 256, 128, 64');
    expectNoProblems();
  }, 20_000);

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
    // The GPU profile: filled when training started (and since), with per-dispatch bars when the adapter has timestamps.
    await waitFor('the GPU profile', 30_000, `document.getElementById('profile-bars').dataset.filled === 'true'`);
    const timestamps = await page.$eval('#profile-bars', (e) => (e as HTMLElement).dataset.timestamps === 'true');
    // The seed MLP's step: 10 dispatches with the update fused, 17 where the adapter's tuning runs
    // it as its own pass (SwiftShader, tuningFor), the loss and the optimizer then groups of their own.
    const ownPass = /swiftshader/i.test(await text('#adapter-name'));
    const dispatches = ownPass ? 17 : 10;
    if (timestamps) {
      const bars = await page.$$eval('#profile-bars .pbar', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.ms)));
      expect(bars.length, 'a bar per dispatch').toBe(dispatches);
      expect(bars.every((ms) => ms >= 0 && Number.isFinite(ms))).toBe(true);
      const shares = await page.$$eval('#profile-shares li', (li) => li.map((l) => l.textContent ?? ''));
      expect(shares.map((t) => t.split(' ')[0])).toEqual([
        'gather',
        'l1',
        'l2',
        'l3',
        'l4',
        'l5',
        ...(ownPass ? ['softmax_ce', 'optimizer'] : []),
      ]);
      expect(shares.every((t) => /^\S+ \d+%$/.test(t))).toBe(true);
    } else {
      expect(await text('#profile-note')).toContain('no timestamp queries');
    }
    expect(await text('#profile-summary')).toMatch(new RegExp(`^${dispatches} dispatches, [\\d.]+ ms .* samples/s$`));
    console.log(`demo: profile (timestamps ${timestamps}): ${await text('#profile-summary')}; ${await text('#profile-note')}`);
    uninterrupted = await weightsHash();
    expect(uninterrupted).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.$$eval('#runs-list li', (li) => li.length), 'the finished run is listed').toBe(1);
    expectNoProblems();
  }, 240_000);

  it('saves the run in the browser: after a reload mid-run it continues to exactly the uninterrupted weights', async () => {
    await click('reset');
    await waitFor('the reset', 30_000, `document.getElementById('phase').dataset.phase === 'idle'`);
    await click('start');
    await waitFor(
      'the autosave at the end of epoch 1',
      120_000,
      `document.getElementById('autosave-status').dataset.step === '${STEPS_PER_EPOCH}'`,
    );
    await waitFor('a step of epoch 2', 60_000, `Number(document.getElementById('loss-chart').dataset.points) > ${STEPS_PER_EPOCH}`);
    await page.reload({ waitUntil: 'load', timeout: 30_000 });
    await waitFor('MNIST to load again', 60_000, `document.getElementById('data-box').dataset.state === 'ready'`);
    await waitFor('the offer to continue', 30_000, `!document.getElementById('resume-box').hidden`);
    expect(await text('#resume-text')).toMatch(
      new RegExp(`^Continue the run from epoch 1, step ${STEPS_PER_EPOCH} \\(of ${3 * STEPS_PER_EPOCH};`),
    );
    await click('resume');
    await waitFor('the continued run to finish', 180_000, `document.getElementById('phase').dataset.phase === 'done'`);
    expect(Number(await page.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.points))).toBe(3 * STEPS_PER_EPOCH);
    expect(await page.$$eval('#accuracy-list li', (li) => li.length)).toBe(3);
    expect(await page.$eval('#batch-size', (e) => (e as HTMLInputElement).value), 'the saved settings are shown').toBe(String(BATCH));
    expect(await weightsHash(), 'the continued run ends with the uninterrupted run’s weights').toBe(uninterrupted);

    // Runs compared: the first run (saved when it finished, listed after the reload) and this one.
    await waitFor('two runs in the list', 10_000, `document.querySelectorAll('#runs-list li').length === 2`);
    const labels = await page.$$eval('#runs-list li', (li) => li.map((l) => l.textContent ?? ''));
    for (const label of labels)
      expect(label).toMatch(/^784-512-256-128-64-10 · sgd lr 0\.05 m 0\.9 · batch 16 · seed 7 · 3 epochs · \d+\.\d\d%/);
    await page.$$eval('#runs-list input[type=checkbox]', (boxes) => {
      for (const b of boxes as HTMLInputElement[]) if (!b.checked) b.click();
    });
    expect(await page.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.overlays)).toBe('2');
    expect(await page.$eval('#acc-chart', (e) => (e as HTMLElement).dataset.overlays)).toBe('2');

    await click('export-csv');
    const csv = (await readFile(await downloaded(/^mnist-loss-.*\.csv$/), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('step,epoch,train_loss,test_loss,test_accuracy');
    expect(csv).toHaveLength(3 * STEPS_PER_EPOCH + 1);
    expect(csv[STEPS_PER_EPOCH]).toMatch(new RegExp(`^${STEPS_PER_EPOCH},1,[\\d.e-]+,[\\d.e-]+,0\\.\\d+$`));
    await click('export-png');
    const png = await readFile(await downloaded(/^mnist-charts\.png$/));
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expectNoProblems();
  }, 300_000);

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

  it('trains with each optimizer the engine offers, and takes a new learning rate while training', async () => {
    const kinds = await page.$$eval('#optimizer option', (o) => (o as HTMLOptionElement[]).filter((x) => !x.hidden).map((x) => x.value));
    expect(kinds).toContain('sgd');
    console.log(`demo: optimizers offered: ${kinds.join(', ')}`);
    await setInput('epochs', '1');
    await setInput('lr', '0.01');
    for (const kind of kinds) {
      await page.select('#optimizer', kind);
      await click('start');
      await waitFor(`${kind} to train`, 60_000, `Number(document.getElementById('loss-chart').dataset.points) > 0`);
      if (kind === kinds[0]) {
        await page.$eval('#lr', (e) => {
          const input = e as HTMLInputElement;
          input.value = '0.02';
          input.dispatchEvent(new Event('change', { bubbles: true }));
        });
        await waitFor(
          'the new learning rate',
          20_000,
          `/^Learning rate 0\\.02 from the next steps on/.test(document.getElementById('message').textContent)`,
        );
        const lr = await page.evaluate(
          () => (window as unknown as { __demo: { settings(): { optimizer: { lr: number } } } }).__demo.settings().optimizer.lr,
        );
        expect(lr).toBe(0.02);
      }
      await waitFor(`${kind} to finish`, 90_000, `document.getElementById('phase').dataset.phase === 'done'`);
      const acc = Number(await page.$eval('#accuracy', (e) => (e as HTMLElement).dataset.accuracy));
      expect(acc, `${kind}: test accuracy after 1 epoch`).toBeGreaterThan(0.15);
      await click('reset');
      await waitFor('the reset', 30_000, `document.getElementById('phase').dataset.phase === 'idle'`);
    }
    await page.select('#optimizer', 'sgd');
    expectNoProblems();
  }, 240_000);

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

  it('reports a corrupt save and ignores it; saved runs can be cleared', async () => {
    await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('mnist-demo', { create: true });
      const put = async (name: string, bytes: Uint8Array) => {
        const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await w.write(bytes as Uint8Array<ArrayBuffer>);
        await w.close();
      };
      await put('run-99.bin', new TextEncoder().encode('MNISTRUN\u0004\u0000\u0000\u0000{"x"garbage'));
      await put('current.json', new TextEncoder().encode('{"generation":99}'));
    });
    await page.reload({ waitUntil: 'load', timeout: 30_000 });
    await waitFor('MNIST to load again', 60_000, `document.getElementById('data-box').dataset.state === 'ready'`);
    await waitFor('the note about the bad save', 30_000, `document.getElementById('message').dataset.tone === 'warn'`);
    expect(await text('#message')).toMatch(/^A saved run could not be read and was ignored: run-99\.bin: /);
    expect(await page.$eval('#resume-box', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await phase()).toBe('idle');
    expect(await page.$$eval('#runs-list li', (li) => li.length), 'the finished runs still listed').toBeGreaterThan(0);
    await click('clear-saved');
    await waitFor('the saved runs to go', 10_000, `document.querySelectorAll('#runs-list li').length === 0`);
    expect(await text('#message')).toBe('Saved runs cleared.');
    expectNoProblems();
  }, 120_000);

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

  it('keeps the main thread free while loading and training on the full data (30 s): long tasks, frames', async () => {
    const full = await browser!.newPage();
    watch(full);
    await full.setViewport({ width: 1280, height: 800 });
    // Installed before the page's own scripts: every long task from the first one, and the longest gap between frames.
    await full.evaluateOnNewDocument(() => {
      const w = window as unknown as { __probe: { tasks: number[]; gaps: number[]; frames: number; last: number; mark(): void } };
      const probe = { tasks: [] as number[], gaps: [] as number[], frames: 0, last: 0, mark: () => {} };
      w.__probe = probe;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) probe.tasks.push(Math.round(e.duration));
      }).observe({ type: 'longtask', buffered: true });
      const tick = (t: number) => {
        if (probe.last) probe.gaps.push(t - probe.last);
        probe.last = t;
        probe.frames++;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const browserPid = browser!.process()!.pid!;
    const settledMs = await browserSettled(browserPid);
    const host = hostSpeed();
    const softwareGpuThreads = softwareGpuAtPagePriority(browserPid);
    const cpuBefore = cpuSeconds(browserPid);
    try {
      // A Chrome trace of the loading: what each long task was, the page's CPU against wall time
      // (pageLongTasks). DEMO_TRACE=file.json writes it, and a trace of the rest of the case to file-rest.json.
      await full.tracing.start({ categories: ['toplevel', 'devtools.timeline', 'v8.execute'] });
      const started = Date.now();
      await full.goto(`${server!.url}/?debug`, { waitUntil: 'load', timeout: 60_000 });
      await full.waitForFunction(`document.getElementById('data-box').dataset.state === 'ready'`, { timeout: 120_000, polling: 200 });
      await full.waitForFunction(`!document.getElementById('start').disabled`, { timeout: 60_000, polling: 200 });
      const loadSeconds = (Date.now() - started) / 1000;
      expect(await full.$eval('#data-status', (e) => e.textContent)).toContain('60,000 training and 10,000 test images from the server');
      const during = () =>
        full.evaluate(() => {
          const p = (window as unknown as { __probe: { tasks: number[]; gaps: number[]; frames: number } }).__probe;
          return { tasks: [...p.tasks], maxGap: Math.max(0, ...p.gaps), frames: p.frames };
        });
      const atLoad = await during();
      const loadTrace = new TextDecoder().decode(await full.tracing.stop());
      if (process.env.DEMO_TRACE) {
        await writeFile(process.env.DEMO_TRACE, loadTrace);
        await full.tracing.start({
          path: process.env.DEMO_TRACE.replace(/(\.json)?$/, '-rest.json'),
          categories: ['toplevel', 'devtools.timeline', 'v8.execute'],
        });
      }
      const tracedAtLoad = pageLongTasks(loadTrace, `${server!.url}/`);
      await full.click('#start');
      await full.waitForFunction(`Number(document.getElementById('loss-chart').dataset.points) > 0`, { timeout: 120_000, polling: 200 });
      // Frame gaps from here on: the training itself.
      await full.evaluate(() => {
        const p = (window as unknown as { __probe: { gaps: number[]; frames: number } }).__probe;
        p.gaps.length = 0;
        p.frames = 0;
      });
      await new Promise((r) => setTimeout(r, 30_000));
      const training = await during();
      const steps = Number(await full.$eval('#loss-chart', (e) => (e as HTMLElement).dataset.points));
      await full.click('#pause');
      await full.waitForFunction(`document.getElementById('phase').dataset.phase === 'paused'`, { timeout: 60_000, polling: 200 });
      await full.waitForFunction(`/step \\d+/.test(document.getElementById('autosave-status').textContent)`, {
        timeout: 60_000,
        polling: 200,
      });
      const end = await during();
      if (process.env.DEMO_TRACE) await full.tracing.stop();
      const measuredMs = Date.now() - started;
      const moved = softwareGpuThreads();
      const cpuAfter = cpuSeconds(browserPid);
      // Other jobs on the machine (cores they kept busy on average): the page then cannot be measured alone.
      const others = Math.max(0, cpuAfter.machine - cpuBefore.machine - (cpuAfter.ours - cpuBefore.ours)) / (measuredMs / 1000);
      const shared = others > 0.25 || host.slow;
      console.log(
        `demo: main thread, full data (browser settled in ${settledMs} ms): load ${loadSeconds.toFixed(1)} s, long tasks during load ${JSON.stringify(atLoad.tasks)}; ` +
          `30 s of training (${steps} steps): ${training.frames} frames, longest frame gap ${training.maxGap.toFixed(0)} ms; ` +
          `(traced: wall/CPU ms ${JSON.stringify(tracedAtLoad?.map((t) => `${t.wallMs}/${t.cpuMs}`))}); ` +
          `long tasks in all (load, start, training, pause, save; ${(measuredMs / 1000).toFixed(0)} s) ${JSON.stringify(end.tasks)}; ` +
          `other jobs ${others.toFixed(2)} of ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}; ` +
          `host speed: the spin loop in ${host.spinMs} ms${host.slow ? ` (over ${SLOW_HOST_MS} ms: a slowed host, checked as a shared one)` : ''}; ` +
          `SwiftShader threads moved to nice 0: ${moved}`,
      );
      await full.screenshot({ path: join(ARTIFACTS, 'desktop-full-data.png') as `${string}.png`, fullPage: true });
      const software = (await full.$eval('#adapter', (e) => (e as HTMLElement).dataset.state)) === 'fallback';
      // The long-task list only grows: what came after the load is what starting, training, pausing and saving cost.
      const afterLoad = end.tasks.slice(atLoad.tasks.length);
      if (!shared) {
        // The page's own work per update is a few milliseconds (the charts are drawn in their worker,
        // the figures once a second): no task over 50 ms from Start to the save, on any adapter.
        expect(afterLoad, 'main-thread long tasks from Start to the save (ms)').toEqual([]);
        // Loading too, SwiftShader included, once the browser has settled from opening the window
        // (browserSettled): the page's first layout is ~18 ms of CPU, its scripts less. On a 2-core
        // host that layout sometimes still takes 60–100 ms of wall time with ~30 ms of its thread's
        // CPU (the trace: other processes' threads, or waiting); so what must stay under 50 ms is
        // the CPU of each of the page's tasks, and the trace must have seen every long task.
        expect(tracedAtLoad, 'the trace of the loading shows the page').not.toBeNull();
        expect(tracedAtLoad!.length, "long tasks in the trace, against the PerformanceObserver's count").toBeGreaterThanOrEqual(
          atLoad.tasks.length,
        );
        expect(
          tracedAtLoad!.filter((t) => t.cpuMs >= 50),
          'main-thread tasks while loading with 50 ms of CPU or more',
        ).toEqual([]);
        // On SwiftShader the frames come from a GPU process that also runs the training's command buffers.
        expect(training.maxGap, 'longest gap between frames while training (ms)').toBeLessThan(software ? 1000 : 100);
      } else {
        // Other jobs took the CPU from the page (and ran at its priority), or the host itself is slowed
        // (hostSpeed): only no freeze, little blocking in all (the time over 50 ms of every long task,
        // under 15% of the measured time), and frames kept coming.
        const blocking = end.tasks.reduce((a, d) => a + Math.max(0, d - 50), 0);
        expect(Math.max(0, ...end.tasks), 'longest main-thread task (ms), machine shared with other jobs').toBeLessThan(1000);
        expect(blocking, 'main-thread blocking time (ms), machine shared with other jobs').toBeLessThan(0.15 * measuredMs);
      }
      expect(training.frames, 'frames in 30 s of training').toBeGreaterThan(30 * 15);
      expect(steps, 'training went on').toBeGreaterThan(10);
      expectNoProblems();
    } finally {
      softwareGpuThreads();
      await full.close();
    }
  }, 300_000);
});
