/**
 * Protocol extensions Decoy implements, named as Triton lists them in ServerMetadata
 * (`extensions`), for both the gRPC and the REST server metadata.
 */
export const SERVER_EXTENSIONS: readonly string[] = [
  "classification",
  "model_repository",
  "model_configuration",
  "binary_tensor_data",
  "parameters",
  "statistics",
  "grpc_health",
  "server_reflection",
];
