import type { Command } from 'commander';
import { loadConfig } from '../config';
import { isoDateSchema, providerIdSchema } from '../domain/model';
import { preflight } from '../client';
import { labelSchema } from '../prompts/schema';
import { PreviewTimedOut } from '../previewRun';
import type { PreviewResult } from '../workflows/preview/previewContract';
import { parseWith, print, UserError, withClient } from './session';

/** preview: what a prompt-driven run would decide for a provider's day, with nothing written (a dry run in Temporal). */

const WOULD = { assign: 'move', ask_approval: 'ask approval', waitlist: 'waitlist', undecided: 'undecided' } as const;

export function formatPreview(p: PreviewResult): string {
  const count = (o: keyof typeof WOULD) => p.appointments.filter((a) => a.outcome === o).length;
  const llm = p.llm;
  const lines = [
    `preview ${p.provider_id} ${p.date} · prompt ${p.prompt.name} ${p.prompt.label} v${p.prompt.version} · nothing written`,
    `${p.appointments.length} appointment(s): ${count('assign')} moved at once, ${count('ask_approval')} waiting for approval, ${count('waitlist')} to the waitlist${count('undecided') > 0 ? `, ${count('undecided')} undecided` : ''}`,
    ...p.appointments.map((a) =>
      [
        `  ${a.appointment_id} ${a.time} ${a.specialty}: ${WOULD[a.outcome]}`,
        a.provider_id ? ` → ${a.provider_id} · score ${a.score} (${a.band})` : '',
        a.decided_by ? ` · by ${a.decided_by === 'prompt' ? 'the prompt' : 'the code-driven fallback'}` : '',
        a.outcome === 'waitlist' || a.outcome === 'undecided' ? ` · ${a.reason}` : '',
      ].join(''),
    ),
    `model ${llm.model ?? 'none'}${llm.offline ? ' (offline stand-in)' : ''}: ${llm.calls} call(s), ${llm.prompt_tokens}+${llm.completion_tokens} tokens${llm.fallback_used ? ` · fallback used: ${llm.fallback_reasons.join('; ')}` : ''}`,
    `workflow ${p.workflow_id}`,
  ];
  return lines.join('\n');
}

export function addPreviewCommand(program: Command): void {
  program
    .command('preview')
    .description('what a prompt-driven run would decide for each appointment, with nothing written (a dry run)')
    .requiredOption(
      '-p, --provider <id>',
      'the provider who would be unavailable, e.g. T001',
      parseWith(providerIdSchema, 'provider'),
    )
    .requiredOption('-d, --date <YYYY-MM-DD>', 'the day', parseWith(isoDateSchema, 'date'))
    .option(
      '-l, --label <label>',
      'prompt label to resolve (production, staging, ...)',
      parseWith(labelSchema, 'label'),
    )
    .option('--json', 'print JSON')
    .action(async (opts: { provider: string; date: string; label?: string; json?: boolean }) => {
      const config = loadConfig();
      const input = { providerId: opts.provider, date: opts.date, promptLabel: opts.label ?? config.PROMPT_LABEL };
      // Checked before connecting: a mistake is one line about the mistake, with or without a server.
      await preflight(config, { ...input, reason: 'unavailable' });
      await withClient(async (client) => {
        try {
          const p = await client.preview(input);
          print(p, !!opts.json, () => formatPreview(p));
        } catch (err) {
          if (err instanceof PreviewTimedOut) throw new UserError(err.message);
          throw err;
        }
      });
    });
}
