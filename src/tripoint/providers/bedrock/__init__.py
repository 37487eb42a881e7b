"""The `bedrock` backend type: AWS Bedrock Converse/ConverseStream and InvokeModel embeddings."""
