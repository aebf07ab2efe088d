import { Command } from 'commander';
import { addAdaptCommands } from './adapt';
import { describeError } from '../errors';
import { addApprovalCommands } from './approvals';
import { addAuditCommand } from './audit';
import { addDbCommands } from './db';
import { addEvalCommand } from './eval';
import { addGuardCommands } from './guard';
import { addListCommand } from './list';
import { addPreviewCommand } from './preview';
import { addPromptCommands } from './prompts';
import { addPseudonymCommand } from './pseudonym';
import { addOutcomeCommands } from './outcomes';
import { addReportCommand } from './report';
import { addRunCommands } from './runs';

/** The command line: start a reassignment, list runs, decide approvals, cancel, follow progress, read the result. */

export function buildProgram(): Command {
  const program = new Command('reassign')
    .description('Prompt-driven reassignment of appointments on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });
  addRunCommands(program);
  addPreviewCommand(program);
  addListCommand(program);
  addApprovalCommands(program);
  addAuditCommand(program);
  addReportCommand(program);
  addPromptCommands(program);
  addEvalCommand(program);
  addGuardCommands(program);
  addPseudonymCommand(program);
  addAdaptCommands(program);
  addOutcomeCommands(program);
  addDbCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err) => {
      console.error(`error: ${describeError(err)}`);
      process.exit(1);
    });
}
