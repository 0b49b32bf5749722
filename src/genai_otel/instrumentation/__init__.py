"""Instrumentors, one per library. Each is also an ``opentelemetry_instrumentor`` entry point."""

from genai_otel._conflict import check_no_foreign_package

# Entry points import this package first under opentelemetry-instrument: fail clearly, not obscurely.
check_no_foreign_package()

#: name -> "module:Class". Kept as strings so importing genai_otel imports no SDK.
INSTRUMENTORS: dict[str, str] = {
    "openai": "genai_otel.instrumentation.openai:OpenAIInstrumentor",
    "anthropic": "genai_otel.instrumentation.anthropic:AnthropicInstrumentor",
    "groq": "genai_otel.instrumentation.groq:GroqInstrumentor",
    "mistralai": "genai_otel.instrumentation.mistralai:MistralInstrumentor",
    "ollama": "genai_otel.instrumentation.ollama:OllamaInstrumentor",
    "cohere": "genai_otel.instrumentation.cohere:CohereInstrumentor",
    "litellm": "genai_otel.instrumentation.litellm:LiteLLMInstrumentor",
    "botocore": "genai_otel.instrumentation.bedrock:BedrockInstrumentor",
    "google.genai": "genai_otel.instrumentation.google_genai:GoogleGenAIInstrumentor",
    "azure.ai.inference": "genai_otel.instrumentation.azure_ai_inference:AzureAIInferenceInstrumentor",
    "langchain_core": "genai_otel.instrumentation.langchain:LangChainInstrumentor",
    "llama_index.core": "genai_otel.instrumentation.llamaindex:LlamaIndexInstrumentor",
    "haystack": "genai_otel.instrumentation.haystack:HaystackInstrumentor",
    "chromadb": "genai_otel.instrumentation.chromadb:ChromaInstrumentor",
    "qdrant_client": "genai_otel.instrumentation.qdrant_client:QdrantInstrumentor",
    "faiss": "genai_otel.instrumentation.faiss:FaissInstrumentor",
    "lancedb": "genai_otel.instrumentation.lancedb:LanceDBInstrumentor",
    "pymilvus": "genai_otel.instrumentation.pymilvus:MilvusInstrumentor",
    "psycopg": "genai_otel.instrumentation.pgvector:PgvectorInstrumentor",
    "pinecone": "genai_otel.instrumentation.pinecone:PineconeInstrumentor",
    "weaviate": "genai_otel.instrumentation.weaviate:WeaviateInstrumentor",
    "redis": "genai_otel.instrumentation.redis:RedisStreamsInstrumentor",
    "nats": "genai_otel.instrumentation.nats:NatsInstrumentor",
    "mcp": "genai_otel.instrumentation.mcp:McpInstrumentor",
    "a2a": "genai_otel.instrumentation.a2a:A2AInstrumentor",
    # Agent frameworks.
    "agents": "genai_otel.instrumentation.openai_agents:OpenAIAgentsInstrumentor",
    "google.adk": "genai_otel.instrumentation.google_adk:GoogleADKInstrumentor",
    "pydantic_ai": "genai_otel.instrumentation.pydantic_ai:PydanticAIInstrumentor",
    "crewai": "genai_otel.instrumentation.crewai:CrewAIInstrumentor",
    "autogen_agentchat": "genai_otel.instrumentation.autogen_agentchat:AutoGenInstrumentor",
    "ag2": "genai_otel.instrumentation.ag2:AG2Instrumentor",
    "smolagents": "genai_otel.instrumentation.smolagents:SmolagentsInstrumentor",
    "strands": "genai_otel.instrumentation.strands:StrandsInstrumentor",
    "dspy": "genai_otel.instrumentation.dspy:DSPyInstrumentor",
    "agno": "genai_otel.instrumentation.agno:AgnoInstrumentor",
    "claude_agent_sdk": "genai_otel.instrumentation.claude_agent_sdk:ClaudeAgentSDKInstrumentor",
}
