import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

/**
 * How our workflow code is bundled and how payloads are converted, in one place: the worker bundles with these
 * settings itself, and the tests and the benchmark prebuild a bundle with them. A bundle built without the
 * payload converter would stall on an undecodable signal again (see payloadConverter.ts).
 */

export const dataConverter = { payloadConverterPath: require.resolve('./payloadConverter') };

export async function bundleWorkflows(workflowsPath: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    payloadConverterPath: dataConverter.payloadConverterPath,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
}
