/**
 * vLLM's CPU cache of LoRA adapter weights (--max-cpu-loras, default --max-loras): adapters are
 * registered without limit, but only this many are held loaded, least recently used first out.
 * A request for an adapter that is not held loads it from disk when it is scheduled, which
 * delays its first token by --lora-load-latency-ms. This is the cost LoRA-affinity routing
 * saves, so routers can measure it against a fleet of doubles.
 */
export class LoraCpuCache {
  /** Insertion-ordered: the first entry is the least recently used. */
  private readonly held = new Map<string, true>();

  constructor(private readonly capacity: () => number) {}

  /** Mark `name` used now; true when it was already loaded (no load time). */
  use(name: string): boolean {
    const hit = this.held.delete(name);
    this.held.set(name, true);
    const cap = Math.max(1, this.capacity());
    while (this.held.size > cap) {
      const oldest = this.held.keys().next().value as string;
      this.held.delete(oldest);
    }
    return hit;
  }

  /** An unloaded adapter leaves the cache with its registration. */
  forget(name: string): void {
    this.held.delete(name);
  }

  /** Loaded adapters, least recently used first. */
  loaded(): string[] {
    return [...this.held.keys()];
  }
}
