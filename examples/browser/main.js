// Trains the seed MLP on MNIST in the page, through the package's browser entry only.
// Query parameters (for tests and the curious): ?steps=300 &lr=0.01 &momentum=0.5 &test=10000 (test images used).
import { createDevice, datasetFrom, describeError, loadMnistFrom, mlp, sgd, Trainer } from 'webgpu-mnist-engine';

const params = new URLSearchParams(location.search);
const number = (name, fallback) => {
  const value = Number(params.get(name) ?? fallback);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const STEPS = Math.floor(number('steps', 300));
const TEST_IMAGES = Math.floor(number('test', 10_000));
const LR = number('lr', 0.01);
const MOMENTUM = number('momentum', 0.5);

const status = document.getElementById('status');
const progress = document.getElementById('progress');
const accuracyOut = document.getElementById('accuracy');

function show(text, state) {
  status.textContent = text;
  status.dataset.state = state;
}

/** The page's MNIST files, from ./mnist/ beside it: `.gz` or raw, whichever is there (null when it is not). */
async function fetchFile(name) {
  const response = await fetch(`./mnist/${name}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`./mnist/${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function main() {
  if (!navigator.gpu) {
    show('This browser has no WebGPU (navigator.gpu is missing).', 'error');
    return;
  }
  show('Loading MNIST from ./mnist/ …', 'loading');
  const mnist = await loadMnistFrom(fetchFile, './mnist/');
  const count = Math.min(TEST_IMAGES, mnist.test.count);
  // The first `count` test images, normalized as the training set is.
  const test = datasetFrom({
    name: 'MNIST test',
    features: mnist.test.features.subarray(0, count * mnist.test.featureCount),
    labels: mnist.test.labels.subarray(0, count),
    featureCount: mnist.test.featureCount,
    classes: mnist.test.classes,
    normalization: mnist.train.normalization,
  });

  const device = await createDevice();
  const trainer = await Trainer.create(device, {
    model: mlp([784, 512, 256, 128, 64, 10]),
    optimizer: sgd({ lr: LR, momentum: MOMENTUM }),
    train: mnist.train,
    batchSize: 64,
    seed: 1,
  });
  try {
    show(`Training for ${STEPS} steps …`, 'training');
    progress.max = STEPS;
    const started = performance.now();
    await trainer.fit({
      epochs: 1,
      maxSteps: STEPS,
      onBatch: (batch) => {
        progress.value = batch.step + 1;
        show(`Training: step ${batch.step + 1} of ${STEPS}, loss ${batch.loss.toFixed(3)}`, 'training');
      },
    });
    const seconds = (performance.now() - started) / 1000;
    show(`Evaluating on ${count} test images …`, 'evaluating');
    const { accuracy, loss } = await trainer.evaluate(test);
    accuracyOut.textContent = `${(accuracy * 100).toFixed(2)}%`;
    accuracyOut.dataset.accuracy = String(accuracy);
    show(`Done: ${STEPS} steps in ${seconds.toFixed(1)} s; test loss ${loss.toFixed(3)} on ${count} images.`, 'done');
  } finally {
    trainer.dispose();
    device.destroy();
  }
}

main().catch((error) => {
  show(describeError(error), 'error');
  console.error(error);
});
