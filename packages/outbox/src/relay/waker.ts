/** Lets a loop sleep until a notification, a timeout, or close — whichever comes first. */
export class Waker {
  #pending = false;
  #resolve: (() => void) | undefined;

  wake(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  /** Resolves true when woken (or a wake came in since the last wait), false on timeout. */
  wait(ms: number): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), ms);
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        this.#resolve = undefined;
        this.#pending = false;
        resolve(woken);
      };
      this.#resolve = () => finish(true);
    });
  }
}
