/**
 * The seed's short routes (`/resnet/`, `/yolo/`, `/bert/`): the same JSON shapes the original
 * fake server returned, with values derived deterministically from the request body (and
 * seed) through the same fakes the KServe models use.
 */
import { fingerprint, rehash } from "../tensors.js";
import { classificationBase } from "./fakes/classification.js";
import { detectionsFor } from "./fakes/detection.js";
import { unit } from "./fakes/generator.js";
import { spanFor } from "./fakes/question-answering.js";

export type LegacyModel = "resnet" | "yolo" | "bert";
export const LEGACY_MODELS: readonly LegacyModel[] = ["resnet", "yolo", "bert"];

export interface LegacyResnet {
  model: "resnet";
  class_id: number;
  class_label: string;
  score: number;
}

export interface LegacyYolo {
  model: "yolo";
  detections: { bbox: [number, number, number, number]; score: number; category_id: number }[];
}

export interface LegacyBert {
  model: "bert";
  start: number;
  end: number;
  answer: string;
  score: number;
}

const WORDS = [
  "the",
  "denver",
  "broncos",
  "in",
  "1879",
  "normans",
  "warsaw",
  "university",
  "of",
  "chicago",
  "amazon",
  "rainforest",
  "steam",
  "engine",
  "oxygen",
  "victoria",
];

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

export class LegacyFakes {
  private probs: Float32Array | undefined;

  constructor(private readonly salt: number) {}

  private hash(body: Uint8Array, model: LegacyModel): number {
    return fingerprint(body, rehash(this.salt, model.length * 31 + (model.charCodeAt(0) ?? 0)));
  }

  resnet(body: Uint8Array): LegacyResnet {
    const h = this.hash(body, "resnet");
    this.probs ??= classificationBase(1000, `legacy:${this.salt}`);
    const classId = h % 1000;
    return {
      model: "resnet",
      class_id: classId,
      class_label: `class_${classId}`,
      score: round(this.probs[0] as number, 4),
    };
  }

  yolo(body: Uint8Array): LegacyYolo {
    const h = this.hash(body, "yolo");
    // Normalised [ymin, xmin, ymax, xmax] like the seed's COCO-style boxes; COCO ids start at 1.
    const detections = detectionsFor(h, 80, 8400, 1, 1).map((d) => {
      const [cx, cy, w, hh] = d.box;
      const clamp = (v: number) => round(Math.min(1, Math.max(0, v)), 4);
      return {
        bbox: [clamp(cy - hh / 2), clamp(cx - w / 2), clamp(cy + hh / 2), clamp(cx + w / 2)] as [
          number,
          number,
          number,
          number,
        ],
        score: round(d.score, 4),
        category_id: d.classId + 1,
      };
    });
    return { model: "yolo", detections };
  }

  bert(body: Uint8Array): LegacyBert {
    const h = this.hash(body, "bert");
    const span = spanFor(h, 384, 128, 16);
    const words: string[] = [];
    for (let i = span.start; i <= span.end && words.length < 6; i++)
      words.push(WORDS[rehash(h, i) % WORDS.length] as string);
    return {
      model: "bert",
      start: span.start,
      end: span.end,
      answer: words.join(" "),
      score: round(0.5 + 0.49 * unit(rehash(h, 9)), 4),
    };
  }
}
