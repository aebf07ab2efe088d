import { randomUUID } from 'node:crypto';

/**
 * Scores and score configs of the Langfuse-compatible test server, with Langfuse's rules (checked against its
 * public API definition, the one @langfuse/core is generated from, and its server's validation):
 * - POST /api/public/score-configs: a name of 1-35 letters, digits, `_ - . ( )` and spaces; NUMERIC takes an
 *   optional minValue < maxValue and no categories; CATEGORICAL needs categories with unique labels and values;
 *   BOOLEAN takes no categories (they are True=1 / False=0). Names are not unique (Langfuse does not enforce it).
 * - GET /api/public/score-configs (paginated) and /api/public/score-configs/{id}.
 * - POST /api/public/scores: upserted by id (the same id again replaces the score, it never adds one). Without a
 *   configId the data type is the one given or inferred from the value (a number NUMERIC, a string CATEGORICAL);
 *   NUMERIC and BOOLEAN values are numbers (BOOLEAN 0 or 1), CATEGORICAL ones strings. With a configId the config
 *   must exist (404), the score's name and data type must be the config's, a numeric value within its range, a
 *   categorical value one of its categories' labels (stored as that category's value, the label as stringValue).
 * Errors are `{ message, error }` with the status Langfuse answers (400 InvalidRequestError, 404 LangfuseNotFoundError).
 */

export type ScoreDataType = 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN';
const DATA_TYPES: readonly string[] = ['NUMERIC', 'CATEGORICAL', 'BOOLEAN'];

export interface StoredScoreConfig {
  id: string;
  projectId: string;
  name: string;
  dataType: ScoreDataType;
  isArchived: boolean;
  minValue: number | null;
  maxValue: number | null;
  categories: { label: string; value: number }[] | null;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StoredScore {
  id: string;
  traceId: string | null;
  observationId: string | null;
  sessionId: string | null;
  datasetRunId: string | null;
  name: string;
  /** The numeric value (a categorical score's category value, null without a config). */
  value: unknown;
  /** A categorical score's label, a boolean's True/False; null for a numeric score. */
  stringValue: string | null;
  dataType: string | null;
  configId: string | null;
  comment: string | null;
  source: 'API';
  createdAt: string;
  updatedAt: string;
}

const PROJECT = 'test-project';
const CONFIG_NAME = /^[a-zA-Z0-9_\-. ()]+$/;

const fail = (status: number, error: string, message: string): never => {
  throw Object.assign(new Error(message), { status, error });
};
const invalid = (message: string): never => fail(400, 'InvalidRequestError', message);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optionalNumber = (body: Record<string, unknown>, key: string): number | null => {
  const v = body[key];
  if (v === undefined || v === null) return null;
  return isNumber(v) ? v : invalid(`${key}: Expected number, received ${typeof v}`);
};

export function scoreStore() {
  const configs: StoredScoreConfig[] = [];
  /** Scores in the order first received (a replaced score keeps its place). */
  const scores: StoredScore[] = [];
  const scoresById = new Map<string, StoredScore>();
  const now = () => new Date().toISOString();

  const page = <T>(url: URL, all: T[]) => {
    const p = Number(url.searchParams.get('page') ?? 1);
    const limit = Number(url.searchParams.get('limit') ?? 50);
    if (!Number.isInteger(p) || p < 1 || !Number.isInteger(limit) || limit < 1)
      invalid('page and limit must be positive integers');
    return {
      data: all.slice((p - 1) * limit, p * limit),
      meta: { page: p, limit, totalItems: all.length, totalPages: Math.ceil(all.length / limit) },
    };
  };

  function createConfig(body: Record<string, unknown>): StoredScoreConfig {
    const name = body.name;
    if (typeof name !== 'string' || name.length === 0) invalid('name: Required');
    if ((name as string).length > 35) invalid('name: String must contain at most 35 character(s)');
    if (!CONFIG_NAME.test(name as string))
      invalid('name: Name can only contain letters, numbers, underscores, spaces, periods, parentheses, and hyphens');
    const dataType = body.dataType;
    if (typeof dataType !== 'string' || !DATA_TYPES.includes(dataType))
      invalid(`dataType: Invalid enum value. Expected 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN'`);
    const minValue = optionalNumber(body, 'minValue');
    const maxValue = optionalNumber(body, 'maxValue');
    const given = body.categories;
    let categories: { label: string; value: number }[] | null = null;
    if (dataType === 'NUMERIC') {
      if (given !== undefined && given !== null) invalid('Categories are only allowed for categorical configs');
      if (minValue !== null && maxValue !== null && maxValue <= minValue)
        invalid('Maximum value must be greater than Minimum value');
    } else if (dataType === 'BOOLEAN') {
      if (given !== undefined && given !== null)
        invalid('Categories are autogenerated for boolean configs and cannot be passed');
      categories = [
        { label: 'True', value: 1 },
        { label: 'False', value: 0 },
      ];
    } else {
      if (!Array.isArray(given) || given.length === 0) invalid('Categorical data types must include categories');
      categories = (given as unknown[]).map((c) => {
        const cat = c as { label?: unknown; value?: unknown };
        if (typeof cat.label !== 'string' || cat.label === '' || !isNumber(cat.value))
          invalid('categories: each category is { label: non-empty string, value: number }');
        return { label: cat.label as string, value: cat.value as number };
      });
      const labels = new Set<string>();
      const values = new Set<number>();
      for (const c of categories) {
        if (labels.has(c.label)) invalid(`Duplicate category label: ${c.label}, category labels must be unique`);
        if (values.has(c.value)) invalid(`Duplicate category value: ${c.value}, category values must be unique`);
        labels.add(c.label);
        values.add(c.value);
      }
    }
    const at = now();
    const config: StoredScoreConfig = {
      id: randomUUID(),
      projectId: PROJECT,
      name: name as string,
      dataType: dataType as ScoreDataType,
      isArchived: false,
      minValue: dataType === 'NUMERIC' ? minValue : null,
      maxValue: dataType === 'NUMERIC' ? maxValue : null,
      categories,
      description: typeof body.description === 'string' ? body.description : null,
      createdAt: at,
      updatedAt: at,
    };
    configs.push(config);
    return config;
  }

  /** The stored value and stringValue of a score, checked against its data type (and config, if any). */
  function checkValue(
    body: Record<string, unknown>,
    dataType: ScoreDataType,
    config: StoredScoreConfig | undefined,
  ): { value: number | null; stringValue: string | null } {
    const value = body.value;
    const typeOk = dataType === 'CATEGORICAL' ? typeof value === 'string' : isNumber(value);
    if (!typeOk)
      invalid(
        'Ingested score value type not valid against provided data type. Provide numeric values for numeric and boolean scores, and string values for categorical scores.',
      );
    if (dataType === 'BOOLEAN') {
      if (value !== 0 && value !== 1) invalid('Value must be either 0 or 1');
      return { value: value as number, stringValue: value === 1 ? 'True' : 'False' };
    }
    if (dataType === 'NUMERIC') {
      const n = value as number;
      if (config?.maxValue !== null && config?.maxValue !== undefined && n > config.maxValue)
        invalid(`Value exceeds maximum value of ${config.maxValue} defined in config`);
      if (config?.minValue !== null && config?.minValue !== undefined && n < config.minValue)
        invalid(`Value is below minimum value of ${config.minValue} defined in config`);
      return { value: n, stringValue: null };
    }
    const label = value as string;
    if (!config) return { value: null, stringValue: label };
    const category = (config.categories ?? []).find((c) => c.label === label);
    if (!category) invalid(`Value ${label} does not map to a valid category. Pass a valid category value.`);
    return { value: category!.value, stringValue: label };
  }

  function upsertScore(body: Record<string, unknown>): { id: string } {
    if (typeof body.name !== 'string' || body.name === '') invalid('name: Required');
    if (body.value === undefined || body.value === null) invalid('value: Required');
    const ref = (k: string) => (typeof body[k] === 'string' && body[k] !== '' ? (body[k] as string) : null);
    const traceId = ref('traceId');
    const sessionId = ref('sessionId');
    const datasetRunId = ref('datasetRunId');
    if (!traceId && !sessionId && !datasetRunId)
      invalid('Provide exactly one of traceId, sessionId or datasetRunId for the score');
    if (body.dataType !== undefined && body.dataType !== null && !DATA_TYPES.includes(String(body.dataType)))
      invalid(`dataType: Invalid enum value. Expected 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN'`);
    const configId = ref('configId');
    let config: StoredScoreConfig | undefined;
    if (configId) {
      config = configs.find((c) => c.id === configId);
      if (!config)
        fail(404, 'LangfuseNotFoundError', 'The configId you provided does not match a valid config in this project');
      if (body.dataType && body.dataType !== config!.dataType)
        invalid(`Data type mismatch based on config: expected ${config!.dataType}, got ${String(body.dataType)}`);
      if (config!.isArchived)
        invalid('Config is archived and cannot be used to create new scores. Please restore the config first.');
      if (config!.name !== body.name)
        invalid(`Name mismatch based on config: expected ${config!.name}, got ${body.name as string}`);
    }
    const dataType = (config?.dataType ??
      (body.dataType as ScoreDataType | undefined) ??
      (typeof body.value === 'number' ? 'NUMERIC' : 'CATEGORICAL')) as ScoreDataType;
    const { value, stringValue } = checkValue(body, dataType, config);
    const id = ref('id') ?? randomUUID();
    const at = now();
    const previous = scoresById.get(id);
    const score: StoredScore = {
      id,
      traceId,
      observationId: ref('observationId'),
      sessionId,
      datasetRunId,
      name: body.name as string,
      value,
      stringValue,
      dataType,
      configId,
      comment: typeof body.comment === 'string' ? body.comment : null,
      source: 'API',
      createdAt: previous?.createdAt ?? at,
      updatedAt: at,
    };
    scoresById.set(id, score);
    if (previous) scores[scores.indexOf(previous)] = score;
    else scores.push(score);
    return { id };
  }

  /** Answers a scores or score-configs request, or undefined when the path is not one of these routes. */
  function route(method: string, url: URL, body: Record<string, unknown>): [number, unknown] | undefined {
    const path = url.pathname;
    if (path === '/api/public/score-configs' && method === 'POST') return [200, createConfig(body)];
    if (path === '/api/public/score-configs' && method === 'GET') return [200, page(url, configs)];
    const one = /^\/api\/public\/score-configs\/([^/]+)$/.exec(path);
    if (one && method === 'GET') {
      const id = decodeURIComponent(one[1]!);
      const found = configs.find((c) => c.id === id);
      return found
        ? [200, found]
        : fail(404, 'LangfuseNotFoundError', 'Score config not found within authorized project');
    }
    if (path === '/api/public/scores' && method === 'POST') return [200, upsertScore(body)];
    return undefined;
  }

  return { configs, scores, scoresById, route };
}
