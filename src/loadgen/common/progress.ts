/**
 * A single self-rewriting status line on stderr. It is drawn only when stderr is a terminal,
 * so logs and CI output stay clean; redraws are throttled because a saturating run can
 * complete thousands of requests per second and terminal writes are not free.
 */
export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Force on or off; defaults to whether the stream is a TTY. */
  enabled?: boolean;
  intervalMs?: number;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  readonly enabled: boolean;
  private readonly intervalMs: number;
  private lastDraw = 0;
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;
  private render: (() => string) | undefined;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? this.stream.isTTY === true;
    this.intervalMs = opts.intervalMs ?? 200;
  }

  /** Redraws from `render` on a timer, so progress shows even while no request completes. */
  start(render: () => string): void {
    if (!this.enabled) return;
    this.render = render;
    this.timer = setInterval(() => this.draw(render()), this.intervalMs);
    this.timer.unref();
    this.draw(render());
  }

  /** Redraws now unless the last draw was too recent. */
  tick(): void {
    if (!this.enabled || !this.render) return;
    const now = performance.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.draw(this.render());
  }

  private draw(text: string): void {
    this.lastDraw = performance.now();
    const width = Math.max(20, (this.stream.columns ?? 100) - 1);
    this.stream.write(`\r${text.length > width ? text.slice(0, width) : text}\x1b[K`);
    this.drawn = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.render = undefined;
    if (this.enabled && this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** `[#####.....]  42%` for a fraction in 0..1. */
export function bar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}
