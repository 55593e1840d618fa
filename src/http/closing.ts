import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";

const kOnClose = Symbol("decoy.onClose");
type Tracked = ServerResponse & { [kOnClose]?: (() => void) | null };

/**
 * One "close" listener per response, shared by whoever needs to know when it closes (finished,
 * or the client went away). A second listener turns the emitter's slot into an array that is
 * copied on every emit; on the non-streaming hot path that was a measurable share of a request.
 * `first` runs first; callbacks added with `onResponseClose` run after it, in order.
 */
export function trackClose(reply: FastifyReply, first: () => void): void {
  const raw = reply.raw as Tracked;
  raw[kOnClose] = null;
  raw.on("close", () => {
    first();
    raw[kOnClose]?.();
  });
}

/** Run `fn` when the response closes; through the shared listener when the route has one. */
export function onResponseClose(reply: FastifyReply, fn: () => void): void {
  const raw = reply.raw as Tracked;
  const prev = raw[kOnClose];
  if (prev === undefined) raw.once("close", fn);
  else if (prev === null) raw[kOnClose] = fn;
  else
    raw[kOnClose] = () => {
      prev();
      fn();
    };
}
