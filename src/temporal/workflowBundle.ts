import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

/**
 * How our workflow code is bundled and how payloads and failures are converted inside it, in one place: the
 * worker bundles with these settings itself, and the tests and the benchmark prebuild a bundle with them. A bundle
 * built without the payload converter would stall on an undecodable signal again (see payloadConverter.ts); the
 * codec (encryption) runs outside the bundle, in the worker: src/temporal/dataConverter.ts.
 */

export const converterPaths = {
  payloadConverterPath: require.resolve('./payloadConverter'),
  failureConverterPath: require.resolve('./failureConverter'),
};

export async function bundleWorkflows(workflowsPath: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    ...converterPaths,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
}
