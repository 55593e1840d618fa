import type { FastifyReply } from "fastify";
import type { components } from "../../../gen/openapi/vllm.js";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { toLogit } from "../../engine/llm/embeddings.js";
import type { ChatMessage } from "../../engine/llm/types.js";
import { onResponseClose } from "../closing.js";
import { allOperations } from "../spec.js";
import type { OperationHandlers } from "../types.js";
import { modelCards } from "./openai.js";

/**
 * vLLM's routes beside the OpenAI API (/tokenize, /detokenize, LoRA load/unload, /rerank,
 * /version, /load), NVIDIA NIM's /v1/ranking, and Decoy's / and /engine/stats.
 */

type Schemas = components["schemas"];

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string"
          ? (p as { text: string }).text
          : "",
      )
      .filter((s) => s !== "")
      .join("\n");
  }
  return "";
}

function rerankDocuments(body: Schemas["RerankRequest"]): string[] {
  const docs = body.documents ?? body.texts;
  if (!docs) {
    throw new DecoyError("INVALID_ARGUMENT", 'documents must be a list of strings or {"text": ...} objects.', {
      param: "documents",
      type: "BadRequestError",
    });
  }
  return docs.map((d) => (typeof d === "string" ? d : (d.text ?? "")));
}

export function vllmHandlers(ctx: AppContext): OperationHandlers {
  let endpoints: string[] | undefined;
  const rerank = async (body: Schemas["RerankRequest"], signal: AbortSignal) => {
    const documents = rerankDocuments(body);
    const res = await ctx.llm.rank({
      model: body.model,
      query: body.query,
      passages: documents,
      topN: body.top_n ?? null,
      signal,
    });
    return {
      id: `rerank-${ctx.llm.newId()}`,
      model: res.model,
      usage: { total_tokens: res.promptTokens },
      results: res.results.map((r) => ({
        index: r.index,
        document: { text: documents[r.index] ?? "" },
        relevance_score: r.score,
      })),
    };
  };
  const abortOnClose = (reply: FastifyReply): AbortSignal => {
    const ac = new AbortController();
    onResponseClose(reply, () => ac.abort());
    return ac.signal;
  };

  return {
    getServerInfo: () => {
      endpoints ??= allOperations().map((op) => `${op.method} ${op.path}`);
      const cfg = ctx.config.current;
      return {
        name: "decoy",
        version: ctx.version,
        description: "GPU-free inference server double: OpenAI/vLLM and KServe v2 over one simulation engine",
        uptime_s: (ctx.engine.clock.wallNow() - ctx.engine.startedAt) / 1000,
        models: modelCards(ctx).map((m) => m.id),
        endpoints,
        config: { ...cfg },
      };
    },

    getVersion: () => ({ version: ctx.version }),

    getLoad: () => ({ server_load: ctx.engine.inflightCount }),

    getEngineStats: () => {
      const s = ctx.llm.stats();
      return {
        model: s.model,
        served_model_names: s.servedModelNames,
        running: s.running,
        waiting: s.waiting,
        max_num_seqs: s.maxNumSeqs,
        max_waiting_queue_length: s.maxWaitingQueueLength,
        max_loras: s.maxLoras,
        running_loras: s.runningLoras,
        waiting_loras: s.waitingLoras,
        loras: s.loras,
        cpu_loras: s.cpuLoras,
        mode: s.mode,
        tokenizers: s.tokenizers,
      };
    },

    tokenize: (request) => {
      const body = request.body as Schemas["TokenizeRequest"];
      const messages: ChatMessage[] | undefined = body.messages?.map((m) => ({
        role: m.role,
        content: text(m.content),
      }));
      if (messages === undefined && body.prompt === undefined) {
        throw new DecoyError("INVALID_ARGUMENT", "Either 'prompt' or 'messages' must be provided.", {
          param: "prompt",
          type: "BadRequestError",
        });
      }
      const input: Parameters<typeof ctx.llm.tokenize>[0] = {};
      if (body.model !== undefined) input.model = body.model;
      if (typeof body.add_special_tokens === "boolean") input.addSpecialTokens = body.add_special_tokens;
      if (body.chat_template_kwargs || typeof body.add_generation_prompt === "boolean") {
        input.templateKwargs = { ...body.chat_template_kwargs };
        if (typeof body.add_generation_prompt === "boolean")
          input.templateKwargs.add_generation_prompt = body.add_generation_prompt;
      }
      if (messages) input.messages = messages;
      else if (body.prompt !== undefined) input.prompt = body.prompt;
      const r = ctx.llm.tokenize(input);
      return {
        count: r.ids.length,
        max_model_len: r.maxModelLen,
        tokens: r.ids,
        token_strs: body.return_token_strs ? r.strings : null,
      };
    },

    detokenize: (request) => {
      const body = request.body as Schemas["DetokenizeRequest"];
      const input: { model?: string; tokens: number[] } = { tokens: body.tokens };
      if (body.model !== undefined) input.model = body.model;
      return { prompt: ctx.llm.detokenize(input) };
    },

    loadLoraAdapter: (request, reply) => {
      const body = request.body as Schemas["LoadLoraRequest"];
      const a = ctx.llm.models.load(body.lora_name, body.lora_path);
      return reply.type("text/plain; charset=utf-8").send(`Success: LoRA adapter '${a.name}' added successfully.`);
    },

    unloadLoraAdapter: (request, reply) => {
      const body = request.body as Schemas["UnloadLoraRequest"];
      const a = ctx.llm.models.unload(body.lora_name);
      return reply.type("text/plain; charset=utf-8").send(`Success: LoRA adapter '${a.name}' removed successfully.`);
    },

    rerank: (request, reply) => rerank(request.body as Schemas["RerankRequest"], abortOnClose(reply)),
    rerankUnversioned: (request, reply) => rerank(request.body as Schemas["RerankRequest"], abortOnClose(reply)),

    createRanking: async (request, reply) => {
      const body = request.body as Schemas["RankingRequest"];
      const res = await ctx.llm.rank({
        model: body.model,
        query: body.query.text,
        passages: body.passages.map((p) => p.text),
        topN: body.top_n ?? null,
        signal: abortOnClose(reply),
      });
      return {
        rankings: res.results.map((r) => ({ index: r.index, logit: toLogit(r.score) })),
        usage: { prompt_tokens: res.promptTokens, total_tokens: res.promptTokens },
      };
    },
  };
}
