/**
 * What the agent set up, undone in reverse order. A step that fails is logged
 * and the rest still run: a stuck TUN removal must not leave the modem in a
 * call, nor the other way round.
 */
import type { Logger } from "../core/log.ts";

export type TeardownStep = () => Promise<void> | void;

export class Teardown {
  private readonly steps: TeardownStep[] = [];

  add(step: TeardownStep): void {
    this.steps.push(step);
  }

  /** Runs every step once, last added first; later calls find nothing left to do. */
  async run(log: Logger): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn(`teardown step failed: ${(err as Error).message}`);
      }
    }
  }
}
