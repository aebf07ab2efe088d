/**
 * Ends every jest run with the plain line CI reads: "N passed, N failed" (a suite that could not run
 * counts as a failure).
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    // Under scripts/test.ts (npm test), which prints one line for its two jest runs.
    if (process.env.JEST_SUMMARY_LINE === 'off') return;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(
      `\n${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}
module.exports = SummaryReporter;
