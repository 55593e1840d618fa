/**
 * One benchmark run ("profile" in aiperf's words): a closed loop of `concurrency` workers, or
 * Poisson arrivals at `requestRate` capped at `concurrency` in flight, until `requestCount`
 * requests were sent or `durationS` passed. Warm-up requests go first and are kept apart.
 */
import { setMaxListeners } from "node:events";
import { Random } from "../engine/random.js";
import { CliError, describeError, joinPath, parseHttpUrl, sleep } from "../loadgen/common/cli.js";
import { describeHttpStatus, HttpClient } from "../loadgen/common/http.js";
import { bar, Progress } from "../loadgen/common/progress.js";
import { ENDPOINT_PATHS, type EndpointType, type RequestSpec, sendRequest } from "./openai.js";
import { PromptGenerator } from "./prompts.js";

export interface ProfileOptions {
  url: string;
  model: string;
  endpointType: EndpointType;
  /** Path overriding the endpoint type's default (a custom route). */
  endpoint?: string | undefined;
  streaming: boolean;
  concurrency: number;
  requestRate?: number | undefined;
  /** Stop after this many measured requests; defaults to 100 when no duration is given. */
  requestCount?: number | undefined;
  durationS?: number | undefined;
  warmupRequestCount: number;
  inputTokensMean: number;
  inputTokensStddev: number;
  outputTokensMean?: number | undefined;
  outputTokensStddev: number;
  sharedPrefixRatio: number;
  numPrefixPrompts: number;
  apiKey?: string | undefined;
  headers: Record<string, string>;
  extraInputs: Record<string, unknown>;
  ignoreEos: boolean;
  timeoutS: number;
  seed: number | string;
  signal?: AbortSignal | undefined;
  progress?: boolean | undefined;
  /** Shown in the progress line (a sweep's step, a suite's scenario). */
  label?: string | undefined;
}

export const DEFAULT_REQUEST_COUNT = 100;

export interface RequestRecord {
  index: number;
  /** ms from the run start: due time (rate mode) or send. */
  scheduledMs: number;
  startMs: number;
  endMs: number;
  latencyMs: number;
  ttftMs?: number | undefined;
  /** (latency - TTFT) / (output tokens - 1), aiperf's inter-token latency. */
  itlMs?: number | undefined;
  /** latency / output tokens. */
  tpotMs?: number | undefined;
  /** Gaps between consecutive streamed content chunks. */
  chunkGapsMs: number[];
  inputTokens: number;
  outputTokens?: number | undefined;
  cachedTokens?: number | undefined;
  ok: boolean;
  status?: number | undefined;
  error?: string | undefined;
}

export interface ProfileRun {
  options: ProfileOptions;
  path: string;
  records: RequestRecord[];
  warmup: RequestRecord[];
  wallStart: number;
  /** ms from the first send to the last completion. */
  durationMs: number;
  interrupted: boolean;
}

/** Opens the pool and checks the server: the first transport failure becomes a one-line error. */
export async function connect(
  url: string,
  opts: { apiKey?: string | undefined; headers?: Record<string, string>; maxSockets: number },
): Promise<{ client: HttpClient; base: URL; models: string[]; modelsStatus: number }> {
  const base = parseHttpUrl(url);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const client = new HttpClient(base, { maxSockets: opts.maxSockets, headers });
  let models: string[] = [];
  let modelsStatus = 0;
  try {
    const res = await client.request({ path: joinPath(base, "/v1/models"), timeoutMs: 10_000 });
    modelsStatus = res.status;
    if (res.status === 401 || res.status === 403) {
      client.close();
      throw new CliError(
        `the server at ${base.origin} refused the credentials: ${describeHttpStatus(res.status, res.body)}`,
      );
    }
    if (res.status === 200) {
      try {
        const doc = JSON.parse(res.body.toString("utf8")) as { data?: { id?: unknown }[] };
        models = (doc.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
      } catch {
        // Not an OpenAI model list; the run itself will tell whether the endpoint works.
      }
    }
  } catch (err) {
    client.close();
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot reach the server at ${base.origin}: ${describeError(err)}`);
  }
  return { client, base, models, modelsStatus };
}

export async function runProfile(
  opts: ProfileOptions,
  shared?: { client: HttpClient; base: URL },
): Promise<ProfileRun> {
  if (!(opts.concurrency >= 1)) throw new CliError("--concurrency must be at least 1");
  const rateMode = opts.requestRate !== undefined && opts.requestRate > 0;
  const countLimit =
    opts.requestCount ?? (opts.durationS !== undefined ? Number.POSITIVE_INFINITY : DEFAULT_REQUEST_COUNT);
  const timeLimitMs = opts.durationS !== undefined ? opts.durationS * 1000 : Number.POSITIVE_INFINITY;
  const own = shared ? undefined : await connect(opts.url, { ...opts, maxSockets: opts.concurrency });
  const { client, base } = shared ?? (own as { client: HttpClient; base: URL });
  const path = joinPath(base, opts.endpoint ?? ENDPOINT_PATHS[opts.endpointType]);
  const prompts = new PromptGenerator(opts.seed, opts);
  const rng = new Random(`${opts.seed}:lengths`);
  const arrivalRng = new Random(`${opts.seed}:arrivals`);
  const timeoutMs = opts.timeoutS * 1000;

  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) controller.abort();
  const signal = controller.signal;
  // Every in-flight request listens for the abort; thousands of listeners are expected here.
  setMaxListeners(0, signal);

  const nextSpec = (): { spec: RequestSpec; tokens: number } => {
    const p = prompts.next();
    const maxTokens =
      opts.outputTokensMean !== undefined && opts.endpointType !== "embeddings"
        ? Math.max(
            1,
            Math.round(
              opts.outputTokensStddev > 0
                ? rng.normal(opts.outputTokensMean, opts.outputTokensStddev)
                : opts.outputTokensMean,
            ),
          )
        : undefined;
    return {
      spec: {
        model: opts.model,
        endpointType: opts.endpointType,
        streaming: opts.streaming,
        prompt: p.text,
        maxTokens,
        ignoreEos: opts.ignoreEos,
        extraInputs: opts.extraInputs,
      },
      tokens: p.tokens,
    };
  };

  let t0 = performance.now();
  const records: RequestRecord[] = [];
  const warmup: RequestRecord[] = [];
  let inflight = 0;
  let errors = 0;

  /**
   * `due` is the scheduled send time in rate mode; in a closed loop the clock starts at the
   * send itself, after the prompt was built.
   */
  const one = async (
    index: number,
    prepared: { spec: RequestSpec; tokens: number },
    due: number | undefined,
    into: RequestRecord[],
  ): Promise<void> => {
    const { spec, tokens } = prepared;
    inflight++;
    const out = await sendRequest(client, spec, { path, origin: due, timeoutMs, signal });
    inflight--;
    if (signal.aborted && !out.ok) return;
    const t = out.timing;
    const latencyMs = t.doneAt - t.origin;
    const outputTokens =
      opts.endpointType === "embeddings"
        ? undefined
        : (out.usage.completionTokens ?? (opts.streaming ? out.chunks : undefined));
    const ttftMs = t.firstTokenAt !== undefined ? t.firstTokenAt - t.origin : undefined;
    const gaps: number[] = [];
    for (let i = 1; i < t.tokenTimes.length; i++)
      gaps.push((t.tokenTimes[i] as number) - (t.tokenTimes[i - 1] as number));
    const rec: RequestRecord = {
      index,
      scheduledMs: t.origin - t0,
      startMs: t.sentAt - t0,
      endMs: t.doneAt - t0,
      latencyMs,
      ttftMs: out.ok ? ttftMs : undefined,
      itlMs:
        out.ok && t.firstTokenAt !== undefined && outputTokens !== undefined && outputTokens > 1
          ? (t.doneAt - t.firstTokenAt) / (outputTokens - 1)
          : undefined,
      tpotMs: out.ok && outputTokens ? latencyMs / outputTokens : undefined,
      chunkGapsMs: out.ok ? gaps : [],
      inputTokens: out.usage.promptTokens ?? tokens,
      outputTokens: out.ok ? outputTokens : undefined,
      cachedTokens: out.usage.cachedTokens,
      ok: out.ok,
      status: out.status,
      error: out.error,
    };
    if (!out.ok) errors++;
    into.push(rec);
  };

  const progress = new Progress(opts.progress === undefined ? {} : { enabled: opts.progress });
  let sent = 0;
  const timeUp = (): boolean => performance.now() - t0 >= timeLimitMs;

  try {
    // Warm-up: same concurrency, outside the measurement.
    if (opts.warmupRequestCount > 0) {
      let w = 0;
      await Promise.all(
        Array.from({ length: Math.min(opts.concurrency, opts.warmupRequestCount) }, async () => {
          while (w < opts.warmupRequestCount && !signal.aborted) {
            const i = w++;
            await one(i, nextSpec(), undefined, warmup);
          }
        }),
      );
    }
    // Failures here are not fatal: the measured requests report their own errors.
    // In rate mode the cap is a ceiling, not the expected load: open a bounded number up front.
    const warmCount = rateMode ? Math.min(opts.concurrency, 64) : opts.concurrency;
    await client.warm(warmCount, joinPath(base, "/v1/models")).catch(() => undefined);

    progress.start(() => {
      const elapsed = (performance.now() - t0) / 1000;
      const frac = Number.isFinite(countLimit)
        ? records.length / countLimit
        : Math.min(1, elapsed / ((opts.durationS ?? 1) || 1));
      const load = rateMode ? `rate ${opts.requestRate}/s` : `concurrency ${opts.concurrency}`;
      return `${opts.label ? `${opts.label} ` : ""}${load} ${bar(frac)}  ${records.length} done  ${errors} errors  ${inflight} in flight  ${elapsed.toFixed(1)} s`;
    });
    t0 = performance.now();

    if (!rateMode) {
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (sent < countLimit && !timeUp() && !signal.aborted) {
            const i = sent++;
            await one(i, nextSpec(), undefined, records);
          }
        }),
      );
    } else {
      const rate = opts.requestRate as number;
      const pending = new Set<Promise<void>>();
      const slots: (() => void)[] = [];
      let due = t0;
      while (sent < countLimit && !signal.aborted) {
        due += arrivalRng.exponential(rate / 1000);
        if (due - t0 >= timeLimitMs) break;
        const prepared = nextSpec();
        const wait = due - performance.now();
        if (wait > 0.5) await sleep(wait, signal);
        while (inflight >= opts.concurrency && !signal.aborted) await new Promise<void>((r) => slots.push(r));
        if (signal.aborted) break;
        const i = sent++;
        const p = one(i, prepared, due, records).then(() => {
          pending.delete(p);
          slots.shift()?.();
        });
        pending.add(p);
      }
      for (const s of slots.splice(0)) s();
      await Promise.all(pending);
    }
  } finally {
    progress.stop();
    opts.signal?.removeEventListener("abort", onAbort);
    own?.client.close();
  }

  records.sort((a, b) => a.index - b.index);
  const first = records.reduce((m, r) => Math.min(m, r.scheduledMs), Number.POSITIVE_INFINITY);
  const last = records.reduce((m, r) => Math.max(m, r.endMs), 0);
  return {
    options: { ...opts, signal: undefined },
    path,
    records,
    warmup,
    wallStart: Date.now() - (performance.now() - t0),
    durationMs: records.length > 0 ? Math.max(0, last - first) : 0,
    interrupted: signal.aborted,
  };
}
