import type { Config } from "../../config/schema.js";
import { DecoyError } from "../errors.js";
import { hashString, Random } from "../random.js";
import type { Tokenizer } from "../tokenizer.js";
import { chatTemplate } from "./chat-template.js";
import type { ResolvedModel } from "./models.js";
import { type ChatPromptInfo, chatPromptInfo, promptInfo } from "./prompt-cache.js";
import { corpusPieces, cyclicSlice, wordStart } from "./text.js";
import { jsonContent, planToolCalls, validateToolChoice, wantsToolCalls } from "./tools.js";
import type {
  ChatMessage,
  ChoicePlan,
  FinishReason,
  LlmPlan,
  LlmRequest,
  PromptPlan,
  ToolDefinition,
} from "./types.js";

/**
 * Request planning: everything the simulated model will say is decided up front — prompt
 * token counts, each choice's reasoning, content or tool calls as token pieces, and the
 * finish reasons — so the job only has to pace it out. Wire parameters become engine
 * parameters here, in one place (vLLM's `to_sampling_params()`).
 *
 * Output length (seed 001, aiperf's mock server): without max_tokens, 0.8–1.2 × the prompt
 * length (at least 16) with `stop`; with max_tokens, that length capped at max_tokens (then
 * `length`) and raised to min_tokens; `ignore_eos` gives exactly max_tokens with `length`.
 * Echo mode answers with the last user message (chat) or the prompt (completions); random
 * mode draws lengths and text per request. Reasoning models spend their reasoning budget
 * first, inside max_tokens.
 */

export interface PlanContext {
  cfg: Config;
  model: ResolvedModel;
  tokenizer: Tokenizer;
  /** The engine's stream, for random mode. */
  random: Random;
  /** Identifies this engine in P/D transfer parameters. */
  engineId: string;
}

const MIN_NATURAL_TOKENS = 16;
const EFFORTS = new Set(["none", "minimal", "low", "medium", "high"]);

function invalid(message: string, param: string | null = null): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, { param, type: "BadRequestError" });
}

/** The text echo mode repeats: the last user message of a chat. */
export function lastUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ChatMessage;
    if (m.role === "user") return m.content;
  }
  return messages[messages.length - 1]?.content ?? "";
}

/** Per configuration snapshot (replaced, never mutated, on change): model name → base and answer. */
const reasoningByConfig = new WeakMap<Config, Map<string, { base: string; reasoning: boolean }>>();

export function isReasoningModel(cfg: Config, model: ResolvedModel): boolean {
  let known = reasoningByConfig.get(cfg);
  if (known === undefined) {
    known = new Map();
    reasoningByConfig.set(cfg, known);
  }
  const hit = known.get(model.requested);
  if (hit !== undefined && hit.base === model.base) return hit.reasoning;
  const names = [model.requested.toLowerCase(), model.base.toLowerCase()];
  const reasoning = cfg.reasoningModels.some((p) => p !== "" && names.some((n) => n.includes(p.toLowerCase())));
  // wildcard models make the set of names open-ended: keep it bounded
  if (known.size >= 256) known.clear();
  known.set(model.requested, { base: model.base, reasoning });
  return reasoning;
}

export function reasoningBudget(cfg: Config, effort: string | null | undefined): number {
  const e = effort ?? cfg.defaultReasoningEffort;
  if (!EFFORTS.has(e)) {
    throw invalid(
      `Invalid reasoning_effort '${e}': expected one of none, minimal, low, medium, high.`,
      "reasoning_effort",
    );
  }
  const budgets = cfg.reasoningEffortTokens as { low: number; medium: number; high: number };
  switch (e) {
    case "none":
      return 0;
    case "minimal":
      return Math.floor(budgets.low / 4);
    default:
      return budgets[e as "low" | "medium" | "high"];
  }
}

/** vLLM's context-window checks, with its messages. */
export function checkContext(maxModelLen: number, promptTokens: number, maxTokens: number | undefined): void {
  if (promptTokens >= maxModelLen) {
    throw invalid(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
    );
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen) {
    throw invalid(
      `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxModelLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxModelLen} - ${promptTokens}).`,
    );
  }
}

/**
 * A conversation's prompt as the model sees it: its own chat template when the tokenizer has
 * one (Llama 3, Qwen3, DeepSeek-V3 or a --tokenizer directory's tokenizer_config.json), else the
 * generic ChatML rendering, which is also the cache key and what the answer is seeded from.
 */
export function chatPrompt(
  tok: Tokenizer,
  messages: readonly ChatMessage[],
  tools: readonly ToolDefinition[] | null | undefined,
  kwargs?: Record<string, unknown> | null,
  reasoningEffort?: string,
): ChatPromptInfo {
  let key = chatTemplate(messages, tools?.length ? JSON.stringify(tools) : undefined);
  // the same conversation renders differently with other template variables
  if (kwargs) key += JSON.stringify(kwargs);
  if (tok.effortInPrompt && reasoningEffort) key += `\u0000${reasoningEffort}`;
  return chatPromptInfo(tok, key, () =>
    tok.renderChat?.({
      messages,
      tools: tools?.length ? tools.map((t) => ({ type: "function", function: t })) : undefined,
      kwargs: kwargs ?? undefined,
      reasoningEffort,
    }),
  );
}

/**
 * Whether chat_template_kwargs turn thinking off: Qwen3's `enable_thinking: false` and
 * DeepSeek's `thinking: false` make the template close the thinking block before the model
 * starts, so a reasoning model answers without reasoning_content.
 */
function thinkingOff(kwargs: Record<string, unknown> | null | undefined): boolean {
  return kwargs?.enable_thinking === false || kwargs?.thinking === false;
}

function promptPlans(
  req: LlmRequest,
  tok: Tokenizer,
  echo: boolean,
  reasoningEffort: string,
): { prompts: PromptPlan[]; echoSources: string[][] } {
  const echoSources: string[][] = [];
  const special = req.addSpecialTokens ?? req.api !== "chat";
  const extraSpecial = special ? tok.specialTokenCount : 0;
  if (req.api === "chat") {
    const messages = req.messages ?? [];
    if (messages.length === 0) throw invalid("messages must contain at least one message.", "messages");
    let extra = 0;
    for (const m of messages) extra += m.extraTokens ?? 0;
    if (echo) echoSources.push(tok.pieces(lastUserText(messages)));
    const { text, tokens, hash } = chatPrompt(tok, messages, req.tools, req.chatTemplateKwargs, reasoningEffort);
    return {
      prompts: [{ text, ids: undefined, tokens: tokens + extra + extraSpecial, special, hash }],
      echoSources,
    };
  }
  const inputs = req.prompts ?? [];
  if (inputs.length === 0) throw invalid("prompt must not be empty.", "prompt");
  const prompts: PromptPlan[] = [];
  for (const p of inputs) {
    if (typeof p === "string") {
      if (echo) {
        const pieces = tok.pieces(p);
        echoSources.push(pieces);
        prompts.push({ text: p, ids: undefined, tokens: pieces.length + extraSpecial, special, hash: hashString(p) });
      } else {
        const { tokens, hash } = promptInfo(tok, p);
        prompts.push({ text: p, ids: undefined, tokens: tokens + extraSpecial, special, hash });
      }
    } else {
      if (p.length === 0) throw invalid("prompt must not be empty.", "prompt");
      const pieces = tok.piecesFromIds(p);
      if (echo) echoSources.push(pieces);
      const text = pieces.join("");
      // token-id prompts are used as sent, as vLLM does
      prompts.push({ text, ids: p, tokens: p.length, special: false, hash: hashString(text) });
    }
  }
  return { prompts, echoSources };
}

/** Cuts pieces before the first stop string; returns undefined when none occurs. */
function applyStop(pieces: string[], stop: readonly string[]): string[] | undefined {
  const text = pieces.join("");
  let at = -1;
  for (const s of stop) {
    if (s === "") continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (at < 0) return undefined;
  const out: string[] = [];
  let pos = 0;
  for (const p of pieces) {
    if (pos + p.length <= at) {
      out.push(p);
      pos += p.length;
      continue;
    }
    if (pos < at) out.push(p.slice(0, at - pos));
    break;
  }
  return out;
}

function prefillTransferParams(ctx: PlanContext, promptTokens: number): Record<string, unknown> {
  const blocks = Math.ceil(promptTokens / 16);
  return {
    do_remote_decode: false,
    do_remote_prefill: true,
    remote_engine_id: ctx.engineId,
    remote_block_ids: Array.from({ length: blocks }, (_, i) => i + 1),
    remote_host: ctx.cfg.host,
    remote_port: ctx.cfg.port,
    tp_size: 1,
  };
}

export function planRequest(req: LlmRequest, ctx: PlanContext): LlmPlan {
  const { cfg, tokenizer: tok } = ctx;
  const n = req.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw invalid(`n must be at least 1, got ${n}.`, "n");
  // Completions with echo and max_tokens 0 return the prompt alone (how evaluation harnesses
  // score a text's log-likelihood); vLLM still generates one token, which usage counts.
  const echoOnly = req.api === "completion" && req.echo === true && req.maxTokens === 0;
  const maxTokens = echoOnly ? 1 : (req.maxTokens ?? undefined);
  if (maxTokens !== undefined && maxTokens < 1) {
    throw invalid(`max_tokens must be at least 1, got ${maxTokens}.`, "max_tokens");
  }
  const minTokens = req.minTokens ?? 0;
  if (minTokens < 0) throw invalid(`min_tokens must be greater than or equal to 0, got ${minTokens}.`, "min_tokens");
  if (maxTokens !== undefined && minTokens > maxTokens) {
    throw invalid(`min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${minTokens}.`, "min_tokens");
  }
  const topLogprobs = req.logprobs ?? undefined;
  if (topLogprobs !== undefined && (topLogprobs < 0 || topLogprobs > cfg.maxLogprobs)) {
    throw invalid(
      `Requested sample logprobs of ${topLogprobs}, which is greater than max allowed: ${cfg.maxLogprobs}`,
      "logprobs",
    );
  }
  const promptTop = req.promptLogprobs ?? undefined;
  if (promptTop !== undefined) {
    if (promptTop < 0 || promptTop > cfg.maxLogprobs) {
      throw invalid(
        `Requested prompt logprobs of ${promptTop}, which is greater than max allowed: ${cfg.maxLogprobs}`,
        "prompt_logprobs",
      );
    }
    if (req.stream) throw invalid("`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs");
  }
  if (req.api === "chat") validateToolChoice(req.tools, req.toolChoice);

  const { prompts, echoSources } = promptPlans(
    req,
    tok,
    cfg.mode === "echo",
    req.reasoningEffort ?? cfg.defaultReasoningEffort,
  );
  for (const p of prompts) checkContext(cfg.maxModelLen, p.tokens, maxTokens);

  const reasoning = req.api === "chat" && isReasoningModel(cfg, ctx.model) && !thinkingOff(req.chatTemplateKwargs);
  const budget = reasoning ? reasoningBudget(cfg, req.reasoningEffort) : 0;
  const toolCalls = req.api === "chat" && wantsToolCalls(req.tools, req.toolChoice, req.messages);
  const kv = req.kvTransferParams ?? undefined;
  const remoteDecode = kv?.do_remote_decode === true;
  const remotePrefill = kv?.do_remote_prefill === true;
  const corpus = corpusPieces(tok);
  const mode = cfg.mode;
  const seedKey = req.seed === null || req.seed === undefined ? "" : String(req.seed);

  const choices: ChoicePlan[] = [];
  let steps = 0;
  for (let pi = 0; pi < prompts.length; pi++) {
    const prompt = prompts[pi] as PromptPlan;
    const remaining = cfg.maxModelLen - prompt.tokens;
    const limit = maxTokens ?? remaining;
    // hashString(`${prompt.text}\u0000${seedKey}`), continued from the prompt's cached hash
    const promptHash = hashString(`\u0000${seedKey}`, prompt.hash);
    for (let c = 0; c < n; c++) {
      const index = pi * n + c;
      // deterministic per request (and --seed'less), unless the mode asks for fresh draws
      const rng = mode === "random" ? new Random(ctx.random.nextU32()) : new Random(`${promptHash}:${c}`);
      const reasoningTokens = Math.min(budget, limit);
      const contentLimit = limit - reasoningTokens;
      const reasoningPieces =
        reasoningTokens > 0
          ? cyclicSlice(corpus, wordStart(corpus, rng.int(0, corpus.length - 1)), reasoningTokens)
          : [];
      let content: string[] = [];
      let calls: ChoicePlan["toolCalls"] = [];
      let finish: FinishReason;

      if (toolCalls) {
        calls = planToolCalls(req.tools ?? [], req.toolChoice, req.parallelToolCalls !== false, cfg, rng, tok);
        finish = "tool_calls";
      } else {
        const json = req.responseFormat ? jsonContent(req.responseFormat, cfg, rng) : undefined;
        if (json !== undefined) {
          content = tok.pieces(json);
          finish = "stop";
          if (content.length > contentLimit) {
            content = content.slice(0, Math.max(0, contentLimit));
            finish = "length";
          }
        } else {
          let natural: number;
          if (mode === "echo") natural = Math.max(1, echoSources[pi]?.length ?? 0);
          else if (mode === "random") {
            natural =
              maxTokens !== undefined
                ? rng.chance(0.8)
                  ? rng.int(1, Math.max(1, maxTokens - 1))
                  : maxTokens
                : Math.round(Math.min(128, Math.max(1, rng.normal(40, 20))));
          } else {
            natural = Math.max(MIN_NATURAL_TOKENS, Math.round(rng.uniform(0.8, 1.2) * prompt.tokens));
          }
          natural = Math.max(natural, minTokens);
          if (req.ignoreEos) natural = contentLimit;
          let length = natural;
          if (length >= contentLimit) {
            length = Math.max(0, contentLimit);
            finish = "length";
          } else finish = "stop";
          const echo = echoSources[pi] ?? [];
          content =
            mode === "echo" && echo.length > 0
              ? length <= echo.length
                ? echo.slice(0, length)
                : cyclicSlice(echo, 0, length)
              : cyclicSlice(corpus, wordStart(corpus, rng.int(0, corpus.length - 1)), length);
          if (req.stop?.length && !req.ignoreEos) {
            const cut = applyStop(content, req.stop);
            if (cut) {
              content = cut;
              finish = "stop";
            }
          }
        }
      }
      if (remoteDecode && !req.stream) finish = "remote_decode";
      let choiceSteps = reasoningPieces.length + content.length;
      for (const call of calls) choiceSteps += 1 + call.argumentPieces.length;
      let logprobs: number[] | undefined;
      if (topLogprobs !== undefined) {
        logprobs = new Array(choiceSteps);
        for (let i = 0; i < choiceSteps; i++) logprobs[i] = sampledLogprob(rng);
      }
      choices.push({
        index,
        promptIndex: pi,
        reasoning: reasoningPieces,
        content,
        toolCalls: calls,
        finishReason: finish,
        steps: choiceSteps,
        logprobs,
      });
      if (choiceSteps > steps) steps = choiceSteps;
    }
  }

  let promptTokens = 0;
  for (const p of prompts) promptTokens += p.tokens;
  return {
    api: req.api,
    model: ctx.model,
    prompts,
    promptTokens,
    choices,
    steps,
    maxTokens,
    n,
    topLogprobs,
    promptLogprobs: promptTop,
    reasoning,
    remotePrefill,
    remoteDecode,
    kvTransferParams: remoteDecode ? prefillTransferParams(ctx, promptTokens) : null,
    echo: req.echo === true,
    echoOnly,
    tokenizer: tok.name,
  };
}

/** A plausible log-probability of a chosen token: mostly near 0, sometimes down to -4. */
function sampledLogprob(rng: Random): number {
  return -Math.round(rng.next() ** 3 * 40000) / 10000;
}

/**
 * Log-probabilities of a prompt's tokens after the first (vLLM's prompt_logprobs, which a
 * completion with `echo` and `logprobs` returns; the first token has no context and none),
 * deterministic per prompt text.
 */
export function promptLogprobs(prompt: PromptPlan, tokens: number): number[] {
  const rng = new Random(`${prompt.hash}:prompt`);
  const out = new Array<number>(Math.max(0, tokens - 1));
  for (let i = 0; i < out.length; i++) out[i] = sampledLogprob(rng);
  return out;
}

/** Alternatives for one step's logprobs: other corpus pieces, each less likely than the chosen one. */
export function topAlternatives(
  tok: Tokenizer,
  chosen: string,
  logprob: number,
  k: number,
  salt: number,
): { token: string; logprob: number }[] {
  const corpus = corpusPieces(tok);
  const out: { token: string; logprob: number }[] = [{ token: chosen, logprob }];
  let h = hashString(chosen, salt);
  for (let i = 1; i < k; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    const token = corpus[h % Math.max(1, corpus.length)] ?? " ";
    out.push({ token, logprob: Math.round((logprob - i * 0.75 - (h % 100) / 400) * 10000) / 10000 });
  }
  return out;
}
