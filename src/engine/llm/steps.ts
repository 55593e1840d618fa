import type { ChoicePlan } from "./types.js";

/**
 * A choice's timeline: reasoning pieces, then content pieces, then for each tool call one step
 * carrying its name and one step per argument piece. Renderers ask what a step is.
 */

export const STEP_REASONING = 0;
export const STEP_CONTENT = 1;
export const STEP_TOOL_START = 2;
export const STEP_TOOL_ARGS = 3;

export interface StepRef {
  kind: number;
  /** Text of the step (reasoning/content/argument piece; empty for a tool-call start). */
  piece: string;
  /** Tool call index for tool steps. */
  call: number;
}

/** Fills `out` with step `step` of `choice`; false when the choice has no such step. */
export function stepAt(choice: ChoicePlan, step: number, out: StepRef): boolean {
  if (step >= choice.steps) return false;
  const r = choice.reasoning.length;
  if (step < r) {
    out.kind = STEP_REASONING;
    out.piece = choice.reasoning[step] as string;
    out.call = -1;
    return true;
  }
  const c = choice.content.length;
  if (step < r + c) {
    out.kind = STEP_CONTENT;
    out.piece = choice.content[step - r] as string;
    out.call = -1;
    return true;
  }
  let at = r + c;
  for (let k = 0; k < choice.toolCalls.length; k++) {
    const call = choice.toolCalls[k];
    if (!call) break;
    if (step === at) {
      out.kind = STEP_TOOL_START;
      out.piece = "";
      out.call = k;
      return true;
    }
    const args = call.argumentPieces.length;
    if (step <= at + args) {
      out.kind = STEP_TOOL_ARGS;
      out.piece = call.argumentPieces[step - at - 1] as string;
      out.call = k;
      return true;
    }
    at += 1 + args;
  }
  return false;
}

/** Content text of steps [from, to) (reasoning and tool steps excluded). */
export function contentText(choice: ChoicePlan, from: number, to: number): string {
  const r = choice.reasoning.length;
  const a = Math.max(0, from - r);
  const b = Math.min(choice.content.length, to - r);
  if (b <= a) return "";
  if (b - a === 1) return choice.content[a] as string;
  let s = "";
  for (let i = a; i < b; i++) s += choice.content[i];
  return s;
}

/** The piece whose step is `step`, for logprobs. */
export function pieceAt(choice: ChoicePlan, step: number): string {
  const ref: StepRef = { kind: 0, piece: "", call: -1 };
  return stepAt(choice, step, ref) ? ref.piece : "";
}

/** No output item is open. */
export const ITEM_NONE = -1;

/**
 * A stream that shows a choice as output items (Responses items, Anthropic content blocks): one
 * reasoning item, one text item, one item per tool call, opened in step order.
 */
export interface ItemStream<J> {
  /** Kind of the open item (STEP_REASONING, STEP_CONTENT, STEP_TOOL_START) or ITEM_NONE. */
  readonly itemKind: number;
  /** Tool call of the open item. */
  readonly itemCall: number;
  /** Close the open item, if any, and open one of `kind` (`call` for a tool call). */
  switchItem(job: J, choice: ChoicePlan, kind: number, call: number): string;
  /** One step's text for the open item (tool-call starts carry none and are not passed). */
  piece(kind: number, text: string): string;
}

const itemRef: StepRef = { kind: 0, piece: "", call: -1 };

/** Steps [from, to) of `choice` through `stream`: item changes, then each piece of text. */
export function walkItems<J>(stream: ItemStream<J>, job: J, choice: ChoicePlan, from: number, to: number): string {
  let out = "";
  const end = Math.min(to, choice.steps);
  for (let s = from; s < end; s++) {
    stepAt(choice, s, itemRef);
    const kind = itemRef.kind === STEP_REASONING || itemRef.kind === STEP_CONTENT ? itemRef.kind : STEP_TOOL_START;
    if (kind !== stream.itemKind || (kind === STEP_TOOL_START && itemRef.call !== stream.itemCall)) {
      out += stream.switchItem(job, choice, kind, itemRef.call);
    }
    if (itemRef.kind !== STEP_TOOL_START) out += stream.piece(kind, itemRef.piece);
  }
  return out;
}
