// The system's numbers, asked every few seconds while signed in, with a short history kept
// in memory for the overview's charts.

export const REFRESH_MS = 5000;
export const HISTORY_MS = 5 * 60 * 1000;

export class MetricsFeed {
  constructor(api, query) {
    this.api = api;
    this.query = query;
    this.samples = []; // [{at: ms, metrics}] oldest first
    this.error = null;
    this.listeners = new Set();
    this.timer = null;
    this.generation = 0;
  }

  start() {
    this.tick();
    this.timer = window.setInterval(() => this.tick(), REFRESH_MS);
  }

  stop() {
    window.clearInterval(this.timer);
    this.listeners.clear();
    this.samples = [];
  }

  /** Forget the history (another tenant was picked) and ask again now. */
  reset() {
    this.generation += 1;
    this.samples = [];
    this.tick();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async tick() {
    const generation = this.generation;
    try {
      const metrics = await this.api.get("/v1/metrics", this.query());
      if (generation !== this.generation) return;
      const at = Date.now();
      this.samples.push({ at, metrics });
      this.samples = this.samples.filter((sample) => sample.at >= at - HISTORY_MS);
      this.error = null;
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = error;
    }
    for (const listener of this.listeners) listener(this);
  }
}
