/**
 * What the page shows about the GPU: the adapter the worker got, or, when there is none, what to
 * do about it (the device itself lives in the engine's worker).
 */
import type { DeviceInfo } from './protocol.ts';
import { byId, setText } from './ui.ts';

export function showAdapter(info: DeviceInfo): void {
  const a = info.adapter;
  const box = byId('adapter');
  box.dataset.state = a.isFallback ? 'fallback' : 'ok';
  setText(byId('adapter-name'), [a.vendor, a.architecture].filter(Boolean).join(' · ') || 'Unknown GPU');
  setText(
    byId('adapter-detail'),
    [a.description || a.device, a.isFallback ? 'software (fallback) adapter: training will be slow' : 'hardware adapter']
      .filter(Boolean)
      .join(' — '),
  );
  box.title = `${a.vendor || 'unknown vendor'} / ${a.description || a.device || a.architecture || 'unknown device'}, used by the engine's worker`;
  byId('no-webgpu').hidden = true;
}

export function showNoWebGpu(reason: string): void {
  const help = webGpuHelp();
  byId('adapter').dataset.state = 'none';
  setText(byId('adapter-name'), 'No WebGPU');
  setText(byId('adapter-detail'), reason);
  setText(byId('no-webgpu-title'), help.title);
  byId('no-webgpu-steps').replaceChildren(
    ...[`The page could not get a GPU device: ${reason}.`, ...help.steps].map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
  byId('no-webgpu').hidden = false;
}

export interface Help {
  readonly title: string;
  readonly steps: readonly string[];
}

/** What to do when WebGPU cannot be had, tailored to the likely cause. */
export function webGpuHelp(): Help {
  if (!window.isSecureContext) {
    return {
      title: 'WebGPU needs a secure page',
      steps: [
        'Browsers only offer WebGPU on https:// pages and on http://localhost.',
        'Open the demo through https, or run it locally with npm start and open http://localhost:5173.',
      ],
    };
  }
  const ua = navigator.userAgent;
  const steps = navigator.gpu
    ? [
        'Your browser supports WebGPU, but it offered no adapter: the GPU or its driver may be blocklisted, or hardware acceleration is off.',
        'Turn on “Use graphics acceleration when available” in the browser settings and restart the browser.',
        'Check chrome://gpu: “WebGPU” should say “Hardware accelerated”. On Linux, start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.',
      ]
    : [
        'This browser does not offer WebGPU (navigator.gpu is missing).',
        /Firefox\//.test(ua)
          ? 'Firefox ships WebGPU on Windows from version 141; elsewhere use Chrome or Edge 113 or later.'
          : /Safari\//.test(ua) && !/Chrome\//.test(ua)
            ? 'Safari has WebGPU from Safari 26 (macOS 26 / iOS 26); or use Chrome.'
            : 'Use Chrome or Edge 113 or later on Windows, macOS or ChromeOS, Chrome 121 or later on Android; on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.',
      ];
  return { title: 'WebGPU is not available', steps: [...steps, 'The data and the drawing pad still load; training needs WebGPU.'] };
}
