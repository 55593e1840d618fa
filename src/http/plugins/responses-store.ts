import type { components } from "../../../gen/openapi/openai.js";
import type { LlmJob } from "../../engine/llm/job.js";
import type { ChatMessage } from "../../engine/llm/types.js";

type ResponseBody = components["schemas"]["Response"];

/** Responses kept at most; the oldest go first (vLLM keeps every one, a known leak). */
const MAX_STORED = 10_000;

export interface StoredResponse {
  /** The response as GET returns it: the final one, or `queued` while a background job runs. */
  body: ResponseBody;
  /** The conversation a follow-up (previous_response_id) continues: input and output turns. */
  conversation: ChatMessage[];
  background: boolean;
  /** A background job still running (cancel stops it). */
  job: LlmJob | undefined;
}

/** The Responses API store (--enable-responses-store), in memory, newest 10,000. */
export class ResponsesStore {
  private readonly items = new Map<string, StoredResponse>();

  get(id: string): StoredResponse | undefined {
    return this.items.get(id);
  }

  put(id: string, entry: StoredResponse): void {
    this.items.delete(id);
    this.items.set(id, entry);
    while (this.items.size > MAX_STORED) this.items.delete(this.items.keys().next().value as string);
  }
}
