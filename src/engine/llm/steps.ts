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
