import { randomUUID } from 'node:crypto';
import { scoreStore } from './langfuseScores';

/**
 * The datasets part of the Langfuse-compatible test server, with Langfuse's rules: a dataset is named (creating
 * it again updates it), an item is upserted by its id and needs its dataset, a dataset run is created by its
 * first run item (with that item's description and metadata) and lists newest first, scores and score configs are in
 * langfuseScores.ts. Paths and shapes as Langfuse's public API: /api/public/v2/datasets, /dataset-items, /dataset-run-items,
 * /datasets/{name}/runs, /scores.
 */

export interface StoredDataset {
  id: string;
  name: string;
  description: string | null;
  metadata: unknown;
  createdAt: string;
  updatedAt: string;
}
export interface StoredItem {
  id: string;
  datasetId: string;
  datasetName: string;
  input: unknown;
  expectedOutput: unknown;
  metadata: unknown;
  status: 'ACTIVE';
  createdAt: string;
  updatedAt: string;
}
export interface StoredRun {
  id: string;
  name: string;
  description: string | null;
  metadata: unknown;
  datasetId: string;
  datasetName: string;
  createdAt: string;
  updatedAt: string;
}
export interface StoredRunItem {
  id: string;
  datasetRunId: string;
  datasetRunName: string;
  datasetItemId: string;
  traceId: string | null;
  observationId: string | null;
  createdAt: string;
  updatedAt: string;
}
export type { StoredScore, StoredScoreConfig } from './langfuseScores';

export type DatasetError = { status: number; error: string; message: string };

export function datasetStore() {
  const datasets: StoredDataset[] = [];
  const items: StoredItem[] = [];
  const runs: StoredRun[] = [];
  const runItems: StoredRunItem[] = [];
  const scoreRoutes = scoreStore();
  const now = () => new Date().toISOString();
  const fail = (status: number, error: string, message: string): never => {
    throw Object.assign(new Error(message), { status, error });
  };
  const datasetNamed = (name: string) =>
    datasets.find((d) => d.name === name) ?? fail(404, 'LangfuseNotFoundError', `Dataset ${name} not found`);

  /** Answers a datasets request, or undefined when the path is not one of these routes. */
  function route(method: string, url: URL, body: Record<string, unknown>): [number, unknown] | undefined {
    const path = url.pathname;
    if (path === '/api/public/v2/datasets' && method === 'POST') {
      if (typeof body.name !== 'string' || body.name === '') fail(400, 'InvalidRequestError', 'name is required');
      const existing = datasets.find((d) => d.name === body.name);
      const d: StoredDataset = existing ?? {
        id: randomUUID(),
        name: body.name as string,
        description: null,
        metadata: null,
        createdAt: now(),
        updatedAt: now(),
      };
      d.description = typeof body.description === 'string' ? body.description : d.description;
      d.metadata = body.metadata ?? d.metadata;
      d.updatedAt = now();
      if (!existing) datasets.push(d);
      return [200, d];
    }
    const one = /^\/api\/public\/v2\/datasets\/([^/]+)$/.exec(path);
    if (one && method === 'GET') return [200, datasetNamed(decodeURIComponent(one[1]!))];
    if (path === '/api/public/dataset-items' && method === 'POST') {
      const d = datasetNamed(String(body.datasetName ?? ''));
      const id = typeof body.id === 'string' ? body.id : randomUUID();
      const existing = items.find((i) => i.id === id);
      if (existing && existing.datasetId !== d.id) fail(409, 'ConflictError', `item ${id} belongs to another dataset`);
      const item: StoredItem = existing ?? {
        id,
        datasetId: d.id,
        datasetName: d.name,
        input: null,
        expectedOutput: null,
        metadata: null,
        status: 'ACTIVE',
        createdAt: now(),
        updatedAt: now(),
      };
      Object.assign(item, {
        input: body.input ?? null,
        expectedOutput: body.expectedOutput ?? null,
        metadata: body.metadata ?? null,
        updatedAt: now(),
      });
      if (!existing) items.push(item);
      return [200, item];
    }
    if (path === '/api/public/dataset-run-items' && method === 'POST') {
      const item =
        items.find((i) => i.id === body.datasetItemId) ?? fail(404, 'LangfuseNotFoundError', 'Dataset item not found');
      if (typeof body.runName !== 'string' || body.runName === '')
        fail(400, 'InvalidRequestError', 'runName is required');
      if (!body.traceId && !body.observationId)
        fail(400, 'InvalidRequestError', 'traceId or observationId is required');
      let run = runs.find((r) => r.datasetId === item.datasetId && r.name === body.runName);
      if (!run) {
        run = {
          id: randomUUID(),
          name: body.runName as string,
          description: typeof body.runDescription === 'string' ? body.runDescription : null,
          metadata: body.metadata ?? null,
          datasetId: item.datasetId,
          datasetName: item.datasetName,
          createdAt: now(),
          updatedAt: now(),
        };
        runs.push(run);
      }
      const runItem: StoredRunItem = {
        id: randomUUID(),
        datasetRunId: run.id,
        datasetRunName: run.name,
        datasetItemId: item.id,
        traceId: typeof body.traceId === 'string' ? body.traceId : null,
        observationId: typeof body.observationId === 'string' ? body.observationId : null,
        createdAt: now(),
        updatedAt: now(),
      };
      runItems.push(runItem);
      return [200, runItem];
    }
    const runsOf = /^\/api\/public\/datasets\/([^/]+)\/runs$/.exec(path);
    if (runsOf && method === 'GET') {
      const d = datasetNamed(decodeURIComponent(runsOf[1]!));
      const page = Number(url.searchParams.get('page') ?? 1);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const all = runs.filter((r) => r.datasetId === d.id).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      return [
        200,
        {
          data: all.slice((page - 1) * limit, page * limit),
          meta: { page, limit, totalItems: all.length, totalPages: Math.ceil(all.length / limit) },
        },
      ];
    }
    const scored = scoreRoutes.route(method, url, body);
    if (scored) return scored;
    return undefined;
  }

  return {
    datasets,
    items,
    runs,
    runItems,
    scores: scoreRoutes.scores,
    scoresById: scoreRoutes.scoresById,
    scoreConfigs: scoreRoutes.configs,
    route,
  };
}
