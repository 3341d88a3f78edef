/**
 * A stack of undo steps for everything a benchmark creates (children, databases, temp files,
 * Redis keys). It runs once, newest first, on success, on failure and on Ctrl-C alike; one step
 * failing does not stop the others.
 */
export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  private done: Promise<void> | null = null;

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.done ??= this.runSteps();
    return this.done;
  }

  /**
   * Ctrl-C, a kill, a crash or a closed stdout (`| head`) still remove what was created, then
   * exit with a matching code.
   */
  onSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        console.error(`\n${signal}: cleaning up`);
        void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      });
    }
    // A reader that went away must not turn every later console.log into a crash mid-cleanup.
    process.stdout.on('error', () => undefined);
    process.once('uncaughtException', (err) => {
      console.error(`uncaught: ${err.stack ?? err.message}; cleaning up`);
      void this.run().finally(() => process.exit(1));
    });
  }

  private async runSteps(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        console.error(
          `cleanup: ${step.name} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
}

/** Runs a benchmark body with a Cleanup that always runs; exits non-zero when the body throws. */
export function runBench(name: string, body: (cleanup: Cleanup) => Promise<void>): void {
  const cleanup = new Cleanup();
  cleanup.onSignals();
  body(cleanup)
    .then(
      () => cleanup.run(),
      async (err: unknown) => {
        console.error(
          `${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        await cleanup.run();
        process.exitCode = 1;
      },
    )
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
