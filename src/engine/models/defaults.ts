/**
 * The built-in model repository: the three models of the seed, with the tensor names,
 * datatypes and shapes of their usual ONNX exports and latencies of the order a mid-range
 * data-center GPU shows (ResNet-50 and YOLOv8 at 224/640 px, BERT-large SQuAD at 384 tokens).
 */
import type { ModelDefinition } from "./definition.js";

export function builtinModels(): ModelDefinition[] {
  return [
    {
      name: "resnet",
      kind: "classification",
      platform: "onnxruntime_onnx",
      backend: "onnxruntime",
      versions: ["1"],
      maxBatchSize: 32,
      instances: 0,
      latency: { baseMs: 5, perItemMs: 1, stdDevMs: 0.3 },
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }],
      outputs: [{ name: "output", datatype: "FP32", shape: [-1, 1000] }],
      loaded: true,
    },
    {
      name: "yolo",
      kind: "detection",
      platform: "onnxruntime_onnx",
      backend: "onnxruntime",
      versions: ["1"],
      maxBatchSize: 16,
      instances: 0,
      latency: { baseMs: 8, perItemMs: 3, stdDevMs: 0.5 },
      inputs: [{ name: "images", datatype: "FP32", shape: [-1, 3, 640, 640] }],
      outputs: [{ name: "output0", datatype: "FP32", shape: [-1, 84, 8400] }],
      loaded: true,
    },
    {
      name: "bert",
      kind: "question_answering",
      platform: "onnxruntime_onnx",
      backend: "onnxruntime",
      versions: ["1"],
      maxBatchSize: 16,
      instances: 0,
      latency: { baseMs: 12, perItemMs: 4, stdDevMs: 0.8 },
      inputs: [
        { name: "input_ids", datatype: "INT64", shape: [-1, 384] },
        { name: "attention_mask", datatype: "INT64", shape: [-1, 384] },
        { name: "token_type_ids", datatype: "INT64", shape: [-1, 384] },
      ],
      outputs: [
        { name: "start_logits", datatype: "FP32", shape: [-1, 384] },
        { name: "end_logits", datatype: "FP32", shape: [-1, 384] },
      ],
      loaded: true,
    },
  ];
}
