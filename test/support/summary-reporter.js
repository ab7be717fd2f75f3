import { mkdirSync, writeFileSync } from 'node:fs';

// Prints the closing line CI reads: "N passed, M failed", and keeps it in
// test-results/summary.txt so .ci/run can repeat it last. A suite that fails to load counts as
// a failure even though it ran no test, so a broken file can never pass silently.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    const line = `${results.numPassedTests} passed, ${failed} failed${tail}`;
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/summary.txt', `${line}\n`);
    process.stdout.write(`\n${line}\n`);
  }
}
