import os from 'node:os';
import type { Mode } from '../workflows/contract/types';
import { TARGETS, type Measurement } from './measure';

/**
 * What a benchmark run's measurements mean: the machine they were taken on, the ratios between modes and
 * against the floor, the verdict on each target, and the table printed at the end.
 */

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const kb = (bytes: number) => Math.round(bytes / 1024);
const fmt = (x: number, digits = 2) => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

function byN(runs: Measurement[], mode: Mode) {
  return new Map(runs.filter((r) => r.mode === mode).map((r) => [r.n, r]));
}

export function ratios(runs: Measurement[], floor?: { activities_per_s: number }) {
  const prompt = byN(runs, 'prompt');
  const code = byN(runs, 'code');
  const perN = [...prompt.keys()].map((n) => ({
    n,
    prompt_over_code_time: code.has(n)
      ? Math.round((prompt.get(n)!.ms_per_appointment / code.get(n)!.ms_per_appointment) * 100) / 100
      : undefined,
    prompt_activity_rate_over_floor: floor
      ? Math.round((prompt.get(n)!.activities_per_s / floor.activities_per_s) * 100) / 100
      : undefined,
    code_activity_rate_over_floor:
      floor && code.has(n)
        ? Math.round((code.get(n)!.activities_per_s / floor.activities_per_s) * 100) / 100
        : undefined,
  }));
  const scaling = (m: Map<number, Measurement>) =>
    m.has(10_000) && m.has(100)
      ? Math.round((m.get(10_000)!.ms_per_appointment / m.get(100)!.ms_per_appointment) * 100) / 100
      : undefined;
  return { per_n: perN, scaling_10000_over_100: { prompt: scaling(prompt), code: scaling(code) } };
}

export interface Verdict {
  target: string;
  measured: string;
  holds: boolean | undefined;
}

/** The latency run: N appointments with a fixed think time per LLM call, against the design's own minimum. */
export interface LatencyFigures {
  n: number;
  latency_ms: number;
  wall_ms: number;
  llm_calls: number;
  sequential_ms: number;
  wall_over_sequential: number;
  speedup: number;
  /** Waves of batches (batches ÷ batches in flight, rounded up) × turns per batch × latency. */
  minimum_ms: number;
  waves: number;
  turns_per_batch: number;
  wall_over_minimum: number;
}

/** The payload codec's price: the same run encrypted and in plain JSON. */
export interface CodecFigures {
  n: number;
  on: {
    wall_ms: number;
    ms_per_appointment: number;
    history_bytes_per_appointment: number;
    worker_peak_rss_bytes?: number;
  };
  off: {
    wall_ms: number;
    ms_per_appointment: number;
    history_bytes_per_appointment: number;
    worker_peak_rss_bytes?: number;
  };
  time_on_over_off: number;
  extra_bytes_per_appointment: number;
}

export function verdicts(runs: Measurement[], floor: unknown, latency?: LatencyFigures): Verdict[] {
  const prompt = runs.filter((r) => r.mode === 'prompt');
  const r = ratios(runs, floor as { activities_per_s: number } | undefined);
  const worst = <T>(xs: T[], f: (x: T) => number) => (xs.length ? Math.max(...xs.map(f)) : NaN);
  const v = (target: string, value: number, limit: number, show: (x: number) => string): Verdict => ({
    target,
    measured: Number.isNaN(value) ? 'not measured' : show(value),
    holds: Number.isNaN(value) ? undefined : value <= limit,
  });
  const big = runs.find((x) => x.n === 10_000 && x.mode === 'prompt') ?? runs.find((x) => x.n === 10_000);
  const poc = r.per_n.map((p) => p.prompt_over_code_time).filter((x): x is number => x !== undefined);
  return [
    v(
      `LLM calls per appointment ≤ ${TARGETS.llmCallsPerAppointment} (worst N)`,
      worst(prompt, (x) => x.per_appointment.llm_calls),
      TARGETS.llmCallsPerAppointment,
      (x) => fmt(x),
    ),
    v(
      `model turns per batch ≤ ${TARGETS.turnsPerBatch} (worst N)`,
      worst(prompt, (x) => x.turns_per_batch),
      TARGETS.turnsPerBatch,
      (x) => fmt(x),
    ),
    v(
      `input tokens per appointment ≤ ${TARGETS.inputTokensPerAppointment} (worst N ≥ 100)`,
      worst(
        prompt.filter((x) => x.n >= 100),
        (x) => x.per_appointment.input_tokens,
      ),
      TARGETS.inputTokensPerAppointment,
      (x) => fmt(x, 0),
    ),
    v(
      `prompt/code time per appointment ≤ ${TARGETS.promptOverCodeTime}× (worst N)`,
      poc.length ? Math.max(...poc) : NaN,
      TARGETS.promptOverCodeTime,
      (x) => `${fmt(x)}×`,
    ),
    v(
      `time per appointment at N=10,000 ≤ ${TARGETS.scaling10kOver100}× N=100 (prompt)`,
      r.scaling_10000_over_100.prompt ?? NaN,
      TARGETS.scaling10kOver100,
      (x) => `${fmt(x)}×`,
    ),
    v(
      `time per appointment at N=10,000 ≤ ${TARGETS.scaling10kOver100}× N=100 (code)`,
      r.scaling_10000_over_100.code ?? NaN,
      TARGETS.scaling10kOver100,
      (x) => `${fmt(x)}×`,
    ),
    v(
      `largest history ≤ ${TARGETS.historyEvents} events (any N)`,
      worst(runs, (x) => x.largest_history.events),
      TARGETS.historyEvents,
      (x) => `${x} events`,
    ),
    v(
      `largest history ≤ 4 MB (any N)`,
      worst(runs, (x) => x.largest_history.bytes),
      TARGETS.historyBytes,
      (x) => `${kb(x)} KB`,
    ),
    v(
      `10,000 appointments in < ${TARGETS.wall10kMs / 1000} s (prompt)`,
      runs.find((x) => x.n === 10_000 && x.mode === 'prompt')?.wall_ms ?? NaN,
      TARGETS.wall10kMs,
      (x) => `${fmt(x / 1000, 1)} s`,
    ),
    v(
      `${latency?.latency_ms ?? '–'} ms per LLM call: wall ≤ ${TARGETS.latencyOverMinimum}× the design's minimum`,
      latency?.wall_over_minimum ?? NaN,
      TARGETS.latencyOverMinimum,
      (x) => `${fmt(x)}×`,
    ),
    v(
      'worker peak memory < 1 GB at N=10,000',
      big?.worker_peak_rss_bytes ?? NaN,
      TARGETS.workerPeakBytes,
      (x) => `${mb(x)} MB`,
    ),
  ];
}

export function table(
  report: Record<string, unknown>,
  runs: Measurement[],
  floor?: { activities: number; parallel: number; activities_per_s: number; wall_ms: number },
  latency?: LatencyFigures,
): string {
  const m = report.machine as ReturnType<typeof machine>;
  const lines: string[] = [];
  lines.push(`Machine: ${m.cores} cores, ${m.cpu}, ${m.memory_gib} GiB, Node ${m.node}`);
  lines.push('');
  lines.push(
    '| mode | N | wall | appts/s | ms/appt | turns/batch | LLM calls/appt | input tok/appt | cached tok/appt | output tok/appt | tool calls/appt | history events/appt | history KB/appt | largest history | activities/s | worker peak |',
  );
  lines.push(
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of runs) {
    const p = r.per_appointment;
    const llm = r.mode === 'prompt';
    lines.push(
      `| ${r.mode} | ${r.n.toLocaleString('en')} | ${(r.wall_ms / 1000).toFixed(1)} s | ${fmt(r.appointments_per_s, 1)} | ${fmt(r.ms_per_appointment)} | ${llm ? fmt(r.turns_per_batch ?? 0) : '–'} | ${llm ? fmt(p.llm_calls) : '–'} | ${llm ? p.input_tokens : '–'} | ${llm ? (p.cached_tokens ?? '–') : '–'} | ${llm ? p.output_tokens : '–'} | ${fmt(p.tool_calls)} | ${fmt(p.history_events, 1)} | ${fmt(p.history_bytes / 1024, 1)} | ${r.largest_history.events} ev / ${kb(r.largest_history.bytes)} KB | ${fmt(r.activities_per_s, 1)} | ${r.worker_peak_rss_bytes ? `${mb(r.worker_peak_rss_bytes)} MB` : '–'} |`,
    );
  }
  lines.push('');
  if (floor)
    lines.push(
      `Floor: ${floor.activities} no-op activities, ${floor.parallel} in flight: ${(floor.wall_ms / 1000).toFixed(1)} s, **${floor.activities_per_s} activities/s**.`,
    );
  if (latency) {
    lines.push(
      `Latency ${latency.latency_ms} ms per LLM call, N=${latency.n}: wall ${(latency.wall_ms / 1000).toFixed(1)} s vs sequential ${latency.llm_calls} calls × ${latency.latency_ms} ms = ${(latency.sequential_ms / 1000).toFixed(1)} s: **${fmt(latency.wall_over_sequential * 100, 1)}%** of it (speed-up ${latency.speedup}×).`,
    );
    if (latency.minimum_ms !== undefined)
      lines.push(
        `The design's minimum: ${latency.waves} waves of batches × ${fmt(latency.turns_per_batch)} turns per batch × ${latency.latency_ms} ms = ${(latency.minimum_ms / 1000).toFixed(1)} s; wall **${fmt(latency.wall_over_minimum)}×** of it.`,
      );
  }
  const r = report.ratios as ReturnType<typeof ratios>;
  lines.push('');
  lines.push('| N | prompt/code time per appt | prompt activity rate / floor | code activity rate / floor |');
  lines.push('| ---: | ---: | ---: | ---: |');
  for (const p of r.per_n)
    lines.push(
      `| ${p.n.toLocaleString('en')} | ${p.prompt_over_code_time !== undefined ? `${fmt(p.prompt_over_code_time)}×` : '–'} | ${p.prompt_activity_rate_over_floor ?? '–'} | ${p.code_activity_rate_over_floor ?? '–'} |`,
    );
  lines.push('');
  lines.push(
    `Scaling, time per appointment N=10,000 / N=100: prompt ${r.scaling_10000_over_100.prompt ?? '–'}×, code ${r.scaling_10000_over_100.code ?? '–'}×.`,
  );
  lines.push('');
  lines.push('| target | measured | holds |');
  lines.push('| --- | ---: | :---: |');
  for (const v of report.verdicts as Verdict[])
    lines.push(`| ${v.target} | ${v.measured} | ${v.holds === undefined ? '–' : v.holds ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

/** One row of the "several workers, one database" section. */
export interface StoreRow {
  store: 'sqlite' | 'postgres';
  workers: number;
  n: number;
  wall_ms: number;
  appointments_per_s: number;
  /** Queries sent by all the workers, per appointment (a transaction's BEGIN and COMMIT count). */
  db_round_trips_per_appointment: number;
  /** Time the workers spent waiting for the database's answers, per appointment. */
  db_ms_per_appointment: number;
  decided: number;
  status: string;
}
