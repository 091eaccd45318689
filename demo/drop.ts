/** Files dropped anywhere on the page: MNIST files, or a .safetensors file of weights. */
export function wireDrops(overlay: HTMLElement, on: { weights(file: File): void; data(files: File[]): void }): void {
  let depth = 0;
  const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const files = [...(e.dataTransfer?.files ?? [])];
    const weights = files.find((f) => /\.safetensors$/i.test(f.name));
    if (weights) on.weights(weights);
    else if (files.length) on.data(files);
  });
}
