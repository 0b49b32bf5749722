"""Provider names other libraries use -> ``gen_ai.provider.name``: shared by the integrations that meet them
(LiteLLM itself, and the agent frameworks that route model calls through LiteLLM-style ``provider/model``
names: CrewAI, DSPy, ADK's LiteLlm)."""

from __future__ import annotations

#: LiteLLM provider -> gen_ai.provider.name (well-known values); others keep LiteLLM's name.
LITELLM_PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "groq": "groq",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}
