/**
 * The page's WebGPU device, and what to tell a person when there is none.
 */
import { createDevice, type Device } from '../src/index.ts';

/**
 * `navigator.gpu`, except that when no adapter is offered it asks once more for a fallback
 * (software) adapter: training is then slow, but the page still works on a machine without a GPU.
 */
function withSoftwareFallback(gpu: GPU): GPU {
  return new Proxy(gpu, {
    get(target, key) {
      if (key === 'requestAdapter') {
        return async (options?: GPURequestAdapterOptions) =>
          (await target.requestAdapter(options)) ?? (await target.requestAdapter({ ...options, forceFallbackAdapter: true }));
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function acquireGpu(): Promise<Device> {
  const gpu = navigator.gpu as GPU | undefined;
  return createDevice({ ...(gpu ? { gpu: withSoftwareFallback(gpu) } : {}), label: 'demo' });
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
