import fs from 'node:fs';
import path from 'node:path';
import type { CodecFigures, LatencyFigures, StoreRow } from '../src/bench/analysis';
import { projectRoot } from '../src/config';

/**
 * docs/performance.md, generated from the last full benchmark (bench/results.json) so that the figures in the
 * docs are always the measured ones. `npm run bench` rewrites both; `npm run docs:performance` only the page;
 * test/docs.test.ts checks that the committed page matches the committed results.
 */

interface Run {
  mode: string;
  n: number;
  wall_ms: number;
  appointments_per_s: number;
  ms_per_appointment: number;
  activities_per_s: number;
  turns_per_batch?: number;
  largest_history: { events: number; bytes: number };
  per_appointment: {
    llm_calls: number;
    input_tokens: number;
    cached_tokens?: number;
    output_tokens: number;
    tool_calls: number;
    history_events: number;
    history_bytes: number;
  };
  worker_peak_rss_bytes?: number;
}

export interface BenchResults {
  generated_at: string;
  duration_s?: number;
  temporal_cli?: string;
  machine: { cpu: string; cores: number; memory_gib: number; node: string; platform: string };
  config: { batch_size: number; max_parallel_batches: number; latency_ms: number; latency_n: number; seed: number };
  floor?: { activities: number; parallel: number; wall_ms: number; activities_per_s: number };
  runs: Run[];
  latency?: LatencyFigures;
  codec?: CodecFigures;
  /** Several workers, one database (npm run bench -- --store postgres --workers 1,2,3). */
  stores?: StoreRow[];
  /** When the stores rows were measured, if apart from the rest (a run with --store only). */
  stores_measured_at?: string;
  ratios: {
    per_n: {
      n: number;
      prompt_over_code_time: number;
      prompt_activity_rate_over_floor?: number;
      code_activity_rate_over_floor?: number;
    }[];
    scaling_10000_over_100?: { prompt: number; code: number };
  };
  verdicts: { target: string; measured: string; holds: boolean }[];
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const table = (header: string[], align: ('l' | 'r')[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function renderPerformanceDoc(r: BenchResults): string {
  const when = r.generated_at.replace('T', ' ').slice(0, 16) + ' UTC';
  const m = r.machine;
  const runs = table(
    [
      'mode',
      'N',
      'wall',
      'appts/s',
      'ms/appt',
      'turns/batch',
      'LLM calls/appt',
      'input tok/appt',
      'cached tok/appt',
      'output tok/appt',
      'tool calls/appt',
      'history events/appt',
      'history KB/appt',
      'largest history',
      'activities/s',
      'worker peak',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    r.runs.map((x) => {
      const llm = x.mode === 'prompt';
      const p = x.per_appointment;
      return [
        x.mode,
        fmt(x.n),
        `${fmt(x.wall_ms / 1000, 1)} s`,
        String(x.appointments_per_s),
        fmt(x.ms_per_appointment, 2),
        llm && x.turns_per_batch !== undefined ? fmt(x.turns_per_batch, 2) : '–',
        llm ? fmt(p.llm_calls, 2) : '–',
        llm ? String(p.input_tokens) : '–',
        llm && p.cached_tokens !== undefined ? String(p.cached_tokens) : '–',
        llm ? String(p.output_tokens) : '–',
        String(p.tool_calls),
        String(p.history_events),
        fmt(p.history_bytes / 1024, 1),
        `${x.largest_history.events} ev / ${Math.round(x.largest_history.bytes / 1024)} KB`,
        String(x.activities_per_s),
        x.worker_peak_rss_bytes ? mb(x.worker_peak_rss_bytes) : '–',
      ];
    }),
  );
  const ratios = table(
    ['N', 'prompt/code time per appt', 'prompt activity rate / floor', 'code activity rate / floor'],
    ['r', 'r', 'r', 'r'],
    r.ratios.per_n.map((x) => [
      fmt(x.n),
      `${fmt(x.prompt_over_code_time, 2)}×`,
      String(x.prompt_activity_rate_over_floor ?? '–'),
      String(x.code_activity_rate_over_floor ?? '–'),
    ]),
  );
  const verdicts = table(
    ['target', 'measured', 'holds'],
    ['l', 'r', 'l'],
    r.verdicts.map((v) => [v.target, v.measured, v.holds ? 'yes' : '**no**']),
  );
  const stores = r.stores?.length
    ? table(
        ['store', 'workers', 'N', 'wall', 'appts/s', 'DB round trips/appt', 'DB ms/appt'],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
        r.stores.map((x) => [
          x.store === 'sqlite' ? 'SQLite' : 'PostgreSQL',
          String(x.workers),
          fmt(x.n),
          `${fmt(x.wall_ms / 1000, 1)} s`,
          String(x.appointments_per_s),
          fmt(x.db_round_trips_per_appointment, 1),
          fmt(x.db_ms_per_appointment, 2),
        ]),
      )
    : undefined;
  const lat = r.latency;
  const latencyFloor = lat ? Math.min(1, r.config.batch_size / lat.n) : undefined;
  const scaling = r.ratios.scaling_10000_over_100;
  return `# Performance

<!-- Generated by scripts/performanceDoc.ts from bench/results.json: edit those, not this page. -->

\`npm run bench\` measures what a reassignment costs and how it scales, the same way every time, against one
Temporal dev server (its own temporary SQLite file). It is a benchmark, not a test: it prints a table, writes
\`bench/results.json\` and this page, and never fails on a slow machine. Options: \`--sizes 10,100,1000,10000\`,
\`--modes code,prompt\`, \`--latency-ms 1000\`, \`--latency-n 1000\`, \`--floor 1000\`, \`--out bench/results.json\`,
\`--batch-size\`, \`--parallel\`, \`--quick\` (N=10 and 100, prompt-driven, zero latency, no floor; it writes
\`bench/results-quick.json\` and leaves this page alone unless \`--out\` is given) and \`--check\` (exit 1 when a count
target is exceeded).

## How it measures

- **Data:** the synthetic generator (seed ${r.config.seed}), provider \`T001\`; N=10,000 spreads over 10 days and runs
  with \`until\`. The prompts are the repository's \`production\` prompt with approvals off, as a bulk run would be
  (nobody approves 10,000 assignments by hand): batches of ${r.config.batch_size}, up to ${r.config.max_parallel_batches} in flight.
- **Model:** the offline stand-in (no think time unless \`--latency-ms\`). Input tokens are counted by the model
  server with \`gpt-tokenizer\` on everything each request carries: every message (role, content, tool calls and
  their ids), the tool schemas as JSON, and OpenAI's 3 tokens of framing per message.
- **Worker:** for each measurement a fresh worker (\`scripts/benchWorker.ts\`, the same \`createReassignmentWorker\`
  as \`npm run worker\`, with the offline model inside it) in a child process, warmed up by a tiny run; its peak
  memory is the kernel's high-water mark of its resident set (\`VmHWM\`), sent back over IPC.
- **Wall time** runs from the client's start to the result. Then every history the run left is fetched (each
  parent run across continue-as-new, and each batch): events, bytes (protobuf-encoded, as the server stores
  them) and scheduled activities. Per-appointment figures divide by N.
- **Floor:** a bench-only workflow runs no-op activities with as many in flight as our batches run
  (batch_size × max_parallel_batches). Nothing built on Temporal goes faster on this machine.
- **Latency:** the prompt-driven run of ${lat?.n ?? r.config.latency_n} appointments again, with each LLM reply delayed by
  ${lat?.latency_ms ?? r.config.latency_ms} ms, against the design's own minimum (waves of batches × turns per batch ×
  latency, where a wave is max_parallel_batches batches) and the sequential sum of its LLM calls (calls × latency).

Timings are noisy on two cores (repeated runs differ by up to 2× while other work shares the machine); the counts
(calls, tokens, events, bytes) are the same every run. \`test/benchGuard.test.ts\` guards the counts in CI
(N=10 and 100); timings are printed there, never asserted.

## Last run

${when}${r.duration_s ? `, ${Math.floor(r.duration_s / 60)} min ${Math.round(r.duration_s % 60)} s` : ''}: ${m.cores} cores, CPU "${m.cpu}", ${m.memory_gib} GiB of memory,
Node ${m.node}, ${m.platform}${r.temporal_cli ? `, Temporal CLI ${r.temporal_cli} dev server (SQLite)` : ''}. \`bench/results.json\` holds every figure.

${runs}
${r.floor ? `\nFloor: ${fmt(r.floor.activities)} no-op activities, ${r.floor.parallel} in flight: ${fmt(r.floor.wall_ms / 1000, 1)} s, **${r.floor.activities_per_s} activities/s**.` : ''}
${lat ? `Latency ${lat.latency_ms} ms per LLM call, N=${lat.n}: wall ${fmt(lat.wall_ms / 1000, 1)} s vs sequential ${lat.llm_calls} calls × ${lat.latency_ms} ms = ${fmt(lat.sequential_ms / 1000, 1)} s: **${fmt(lat.wall_over_sequential * 100, 1)}%** of it (speed-up ${lat.speedup}×).` : ''}
${r.codec ? `Payload codec (AES-256-GCM, [security.md](security.md)), N=${fmt(r.codec.n)} prompt-driven: encrypted ${fmt(r.codec.on.wall_ms / 1000, 1)} s (${fmt(r.codec.on.ms_per_appointment, 2)} ms per appointment), plain JSON ${fmt(r.codec.off.wall_ms / 1000, 1)} s (${fmt(r.codec.off.ms_per_appointment, 2)} ms) (**${r.codec.time_on_over_off}×**); history ${fmt(r.codec.on.history_bytes_per_appointment)} vs ${fmt(r.codec.off.history_bytes_per_appointment)} bytes per appointment (${r.codec.extra_bytes_per_appointment >= 0 ? '+' : ''}${fmt(r.codec.extra_bytes_per_appointment)}).` : ''}
${lat?.minimum_ms !== undefined ? `The design's minimum: ${lat.waves} waves of batches × ${lat.turns_per_batch} turns per batch × ${lat.latency_ms} ms = ${fmt(lat.minimum_ms / 1000, 1)} s; wall **${lat.wall_over_minimum}×** of it.` : ''}

${ratios}
${scaling ? `\nScaling, time per appointment N=10,000 / N=100: prompt ${scaling.prompt}×, code ${scaling.code}×.\n` : ''}
${verdicts}
${
  stores
    ? `
## Several workers, one database

The same prompt-driven run (N=${fmt(r.stores![0]!.n)}, no think time) by 1, 2 and 3 worker processes on one task queue,
with the scheduling data in SQLite (one file, the embedded default) and in PostgreSQL 15 (a local cluster the bench
starts; [deployment.md](deployment.md)). Round trips are the queries all the workers' stores sent (a transaction's
BEGIN and COMMIT included); the time is how long they waited for the answers, summed over every query of every
worker (queries in flight at once count each, and on PostgreSQL the wait for a free pooled connection counts too).${r.stores_measured_at ? ` Measured ${r.stores_measured_at.replace('T', ' ').slice(0, 16)} UTC on the same machine.` : ''}

${stores}

- **Why more workers are not faster here.** The machine has ${m.cores} cores, shared by the Temporal dev server, the
  workers (each with the offline model inside it) and the database: a second or third worker adds processes that
  compete for the same cores, and most of a run's time is Temporal's round trips between activities, not the
  database. Several workers are for availability (one dies, the others go on: the multi-worker crash trial in
  [reliability.md](reliability.md)) and for hosts with cores to spare; on one small machine, one worker is as fast.
- **Why PostgreSQL costs more round trips and more time.** The store's SQL is the same for both; PostgreSQL adds a
  BEGIN and a COMMIT per transaction, and each query crosses a socket to another process on the same two cores
  instead of a function call into the SQLite library; up to a hundred activities in flight share a pool of
  PG_POOL_SIZE (10) connections and wait for one. SERIALIZABLE transactions retried after a conflict count again.
  What PostgreSQL buys is not speed on one machine but workers on several.
`
    : ''
}
## Why the figures are what they are

- **LLM calls per appointment.** A batch of the production prompt takes 2 turns whatever its size: the decisions,
  then the summary. The workflow fetches the candidates before the first turn (\`prefetch: [find_candidates]\`)
  and tells each patient after the decision (\`notify: after_decision\`); without them it was 4 turns
  ([models.md](models.md)). With ${r.config.batch_size} appointments a batch that is 2 / ${r.config.batch_size} calls per
  appointment (the seed estimates 5 to 10 per patient).
- **Input tokens per appointment.** Every call re-sends the system prompt and the schemas of the tools the prompt
  config offers (\`tools\`: three for the production prompt); the conversation adds the rest, with tool results
  trimmed to what the next decision needs. Smaller batches would pay the fixed part more often. The cached column
  is what a prompt cache serves of it (the stand-in keeps one as llama.cpp does): the shared system prompt and tools.
- **Activities.** The prefetch, each turn's tool calls (approvals apart) and the notifications after a turn are
  one activity each, every call in it its own transaction with its own idempotency key, so a retried activity
  writes nothing twice; a batch is about 5 activities instead of 3 per appointment.
- **Prompt-driven against code-driven time.** Both make the same tool calls per appointment; the prompt-driven
  path adds its LLM calls and a bigger history.
- **Scaling.** The parent keeps ${r.config.max_parallel_batches} batches in flight and continues as new past its
  history limits (events, or 2 MB), so nothing grows with N but the carried state.
- **Worker memory** includes the offline model server, which runs inside the worker process.
- **Latency.** The batches run in parallel, but a batch's turns run one after another, and at most
  max_parallel_batches run at once, so even with zero overhead the wall time is at least waves × turns per batch ×
  latency (${latencyFloor !== undefined ? `${fmt(latencyFloor * 100, 0)}%` : 'batch_size / N'} of the sequential sum while all batches fit in one wave). The run's
  activities, the child workflows and the tool calls between turns come on top.

## Limits that come next

The parent carries its exact state across continue-as-new (the outcomes so far and the appointments left), about
100 bytes per appointment; near 18,000 appointments in one run it would reach Temporal's 2 MB payload limit.
Larger work should be split into runs by date range (\`until\`, up to 31 days). Each batch's input carries the
whole pinned prompt bundle (about 3 KB), which is most of the parent's bytes per batch.
`;
}

export function writePerformanceDoc(
  resultsFile = path.join(projectRoot, 'bench', 'results.json'),
  docFile = path.join(projectRoot, 'docs', 'performance.md'),
): string {
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as BenchResults;
  fs.writeFileSync(docFile, renderPerformanceDoc(results));
  return docFile;
}

if (require.main === module) {
  console.log(`wrote ${path.relative(process.cwd(), writePerformanceDoc())}`);
}
