/**
 * `node dist/node/adapter.mjs`: the adapter Dawn gives this machine, in one line, then its features
 * and the limits the engine cares about as JSON. The GPU run prints it first, so a failed driver
 * set-up shows at once.
 */
import { createNodeDevice, describeAdapter, describeError } from '../src/node.ts';

try {
  const device = await createNodeDevice({ timestamps: true, label: 'adapter' });
  const limits = device.device.limits;
  process.stdout.write(`adapter: ${describeAdapter(device.adapter)}\n`);
  process.stdout.write(
    `${JSON.stringify({
      adapter: device.adapter,
      timestamps: device.hasTimestamps,
      limits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      },
    })}\n`,
  );
  device.destroy();
} catch (error) {
  process.stderr.write(`error: ${describeError(error)}\n`);
  process.exit(1);
}
