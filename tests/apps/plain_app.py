"""An unmodified GenAI app: no OpenTelemetry code at all. Run under `opentelemetry-instrument`."""

import os

import anthropic
import openai

base = os.environ["MODEL_SERVER_URL"]
client = openai.OpenAI(base_url=f"{base}/v1", api_key=os.environ["APP_API_KEY"], max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
for _chunk in client.chat.completions.create(
    model="gpt-4o",
    messages=[{"role": "user", "content": "stream"}],
    stream=True,
    stream_options={"include_usage": True},
):
    pass
client.embeddings.create(model="text-embedding-3-small", input="vector me")
claude = anthropic.Anthropic(base_url=base, api_key=os.environ["APP_API_KEY"], max_retries=0)
claude.messages.create(model="claude-x", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
print("app done")
