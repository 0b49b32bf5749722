"""Wire protocols of the local model server beyond OpenAI and Anthropic, one mixin per provider."""
