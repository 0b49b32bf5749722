"""GenAI semantic convention names and shapes used by genai-otel.

GENERATED from conventions/*.yaml by `genai-otel semconv generate`. DO NOT EDIT BY HAND.
"""
# fmt: off

PROJECT_PREFIX = 'genai_otel.'

# The upstream conventions followed (conventions/UPSTREAM.yaml); SCHEMA_URL goes on tracers, meters
# and loggers.
UPSTREAM_REPOSITORY = 'https://github.com/open-telemetry/semantic-conventions-genai'
UPSTREAM_COMMIT = 'e9de14bafd9725937c6b0c219897260074a2896c'
SCHEMA_URL = 'https://opentelemetry.io/schemas/1.44.0'

# Attributes
GEN_AI_OPERATION_NAME = 'gen_ai.operation.name'
GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name'
GEN_AI_REQUEST_MODEL = 'gen_ai.request.model'
GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens'
GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature'
GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p'
GEN_AI_REQUEST_TOP_K = 'gen_ai.request.top_k'
GEN_AI_REQUEST_FREQUENCY_PENALTY = 'gen_ai.request.frequency_penalty'
GEN_AI_REQUEST_PRESENCE_PENALTY = 'gen_ai.request.presence_penalty'
GEN_AI_REQUEST_STOP_SEQUENCES = 'gen_ai.request.stop_sequences'
GEN_AI_REQUEST_SEED = 'gen_ai.request.seed'
GEN_AI_REQUEST_CHOICE_COUNT = 'gen_ai.request.choice.count'
GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream'
GEN_AI_REQUEST_ENCODING_FORMATS = 'gen_ai.request.encoding_formats'
GEN_AI_OUTPUT_TYPE = 'gen_ai.output.type'
GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id'
GEN_AI_RESPONSE_ID = 'gen_ai.response.id'
GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model'
GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons'
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk'
GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens'
GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens'
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens'
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = 'gen_ai.usage.cache_write.input_tokens'
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens'
GEN_AI_USAGE_TEXT_INPUT_TOKENS = 'gen_ai.usage.text.input_tokens'
GEN_AI_USAGE_IMAGE_INPUT_TOKENS = 'gen_ai.usage.image.input_tokens'
GEN_AI_USAGE_AUDIO_INPUT_TOKENS = 'gen_ai.usage.audio.input_tokens'
GEN_AI_USAGE_TEXT_OUTPUT_TOKENS = 'gen_ai.usage.text.output_tokens'
GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS = 'gen_ai.usage.audio.output_tokens'
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = 'gen_ai.embeddings.dimension.count'
GEN_AI_DATA_SOURCE_ID = 'gen_ai.data_source.id'
GEN_AI_RETRIEVAL_TOP_K = 'gen_ai.retrieval.top_k'
GEN_AI_RETRIEVAL_QUERY_TEXT = 'gen_ai.retrieval.query.text'
GEN_AI_RETRIEVAL_DOCUMENTS = 'gen_ai.retrieval.documents'
GEN_AI_TOOL_NAME = 'gen_ai.tool.name'
GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id'
GEN_AI_TOOL_TYPE = 'gen_ai.tool.type'
GEN_AI_TOOL_DESCRIPTION = 'gen_ai.tool.description'
GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments'
GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result'
GEN_AI_AGENT_ID = 'gen_ai.agent.id'
GEN_AI_AGENT_NAME = 'gen_ai.agent.name'
GEN_AI_AGENT_DESCRIPTION = 'gen_ai.agent.description'
GEN_AI_AGENT_VERSION = 'gen_ai.agent.version'
GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages'
GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages'
GEN_AI_SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions'
GEN_AI_TOOL_DEFINITIONS = 'gen_ai.tool.definitions'
GEN_AI_INPUT_MESSAGES_REF = 'gen_ai.input.messages_ref'
GEN_AI_OUTPUT_MESSAGES_REF = 'gen_ai.output.messages_ref'
GEN_AI_SYSTEM_INSTRUCTIONS_REF = 'gen_ai.system_instructions_ref'
GEN_AI_TOOL_DEFINITIONS_REF = 'gen_ai.tool.definitions_ref'
GEN_AI_TOKEN_TYPE = 'gen_ai.token.type'
GEN_AI_TOKEN_MODALITY = 'gen_ai.token.modality'
GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS = 'gen_ai.usage.image.output_tokens'
GEN_AI_USAGE_TEXT_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.text.cache_read.input_tokens'
GEN_AI_USAGE_IMAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.image.cache_read.input_tokens'
GEN_AI_USAGE_AUDIO_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.audio.cache_read.input_tokens'
GEN_AI_REQUEST_REASONING_LEVEL = 'gen_ai.request.reasoning.level'
GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID = 'gen_ai.request.previous_response.id'
GEN_AI_REQUEST_STREAM_CURSOR = 'gen_ai.request.stream_cursor'
GEN_AI_RESPONSE_STATUS = 'gen_ai.response.status'
GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name'
GEN_AI_PROMPT_VERSION = 'gen_ai.prompt.version'
GEN_AI_CONVERSATION_COMPACTED = 'gen_ai.conversation.compacted'
GEN_AI_WORKFLOW_NAME = 'gen_ai.workflow.name'
GEN_AI_INVOCATION_IS_NESTED = 'gen_ai.invocation.is_nested'
GEN_AI_MAIN_AGENT_ID = 'gen_ai.main_agent.id'
GEN_AI_MAIN_AGENT_NAME = 'gen_ai.main_agent.name'
GEN_AI_MAIN_AGENT_DESCRIPTION = 'gen_ai.main_agent.description'
GEN_AI_MEMORY_STORE_ID = 'gen_ai.memory.store.id'
GEN_AI_MEMORY_RECORD_ID = 'gen_ai.memory.record.id'
GEN_AI_MEMORY_RECORD_COUNT = 'gen_ai.memory.record.count'
GEN_AI_MEMORY_QUERY_TEXT = 'gen_ai.memory.query.text'
GEN_AI_MEMORY_RECORDS = 'gen_ai.memory.records'
OPENAI_REQUEST_SERVICE_TIER = 'openai.request.service_tier'
OPENAI_RESPONSE_SERVICE_TIER = 'openai.response.service_tier'
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = 'openai.response.system_fingerprint'
OPENAI_API_TYPE = 'openai.api.type'
SERVER_ADDRESS = 'server.address'
SERVER_PORT = 'server.port'
ERROR_TYPE = 'error.type'
GEN_AI_SYSTEM = 'gen_ai.system'
GEN_AI_USAGE_PROMPT_TOKENS = 'gen_ai.usage.prompt_tokens'
GEN_AI_USAGE_COMPLETION_TOKENS = 'gen_ai.usage.completion_tokens'
AWS_BEDROCK_GUARDRAIL_ID = 'aws.bedrock.guardrail.id'
DB_SYSTEM_NAME = 'db.system.name'
DB_OPERATION_NAME = 'db.operation.name'
DB_COLLECTION_NAME = 'db.collection.name'
DB_NAMESPACE = 'db.namespace'
DB_RESPONSE_RETURNED_ROWS = 'db.response.returned_rows'
DB_OPERATION_BATCH_SIZE = 'db.operation.batch.size'
GENAI_OTEL_VECTOR_DIMENSION = 'genai_otel.vector.dimension'
GENAI_OTEL_VECTOR_FILTERED = 'genai_otel.vector.filtered'
GEN_AI_EVALUATION_NAME = 'gen_ai.evaluation.name'
GEN_AI_EVALUATION_SCORE_VALUE = 'gen_ai.evaluation.score.value'
GEN_AI_EVALUATION_SCORE_LABEL = 'gen_ai.evaluation.score.label'
GEN_AI_EVALUATION_EXPLANATION = 'gen_ai.evaluation.explanation'
MESSAGING_SYSTEM = 'messaging.system'
MESSAGING_OPERATION_NAME = 'messaging.operation.name'
MESSAGING_OPERATION_TYPE = 'messaging.operation.type'
MESSAGING_DESTINATION_NAME = 'messaging.destination.name'
MESSAGING_MESSAGE_ID = 'messaging.message.id'
MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count'
MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name'
A2A_METHOD_NAME = 'a2a.method.name'
A2A_MESSAGE_ID = 'a2a.message.id'
A2A_MESSAGE_REFERENCE_TASK_IDS = 'a2a.message.reference_task_ids'
A2A_TASK_ID = 'a2a.task.id'
A2A_TASK_STATE = 'a2a.task.state'
A2A_TENANT = 'a2a.tenant'
A2A_PROTOCOL_VERSION = 'a2a.protocol.version'
GENAI_OTEL_USAGE_COST = 'genai_otel.usage.cost'
GENAI_OTEL_REDACTED = 'genai_otel.redacted'
GENAI_OTEL_AGENT_PATH = 'genai_otel.agent.path'
GENAI_OTEL_AGENT_HOPS = 'genai_otel.agent.hops'
GENAI_OTEL_AGENT_STEPS = 'genai_otel.agent.steps'
GENAI_OTEL_LOOP_GUARD_VALUE = 'genai_otel.loop_guard.value'
GENAI_OTEL_LOOP_GUARD_MAXIMUM = 'genai_otel.loop_guard.maximum'
GENAI_OTEL_LOOP_GUARD_LIMIT = 'genai_otel.loop_guard.limit'
GENAI_OTEL_LOOP_REPEATS = 'genai_otel.loop.repeats'
GENAI_OTEL_COMPONENT_NAME = 'genai_otel.component.name'
GENAI_OTEL_COMPONENT_TYPE = 'genai_otel.component.type'
GENAI_OTEL_CONTENT_TRUNCATED = 'genai_otel.content.truncated'
GENAI_OTEL_EVALUATION_SKIP_REASON = 'genai_otel.evaluation.skip_reason'
GENAI_OTEL_EVALUATION_CLOSED_BY = 'genai_otel.evaluation.closed_by'

# Operation names (gen_ai.operation.name)
OPERATION_CHAT = 'chat'
OPERATION_CREATE_AGENT = 'create_agent'
OPERATION_CREATE_MEMORY = 'create_memory'
OPERATION_CREATE_MEMORY_STORE = 'create_memory_store'
OPERATION_DELETE_MEMORY = 'delete_memory'
OPERATION_DELETE_MEMORY_STORE = 'delete_memory_store'
OPERATION_EMBEDDINGS = 'embeddings'
OPERATION_EXECUTE_TOOL = 'execute_tool'
OPERATION_FETCH_RESPONSE = 'fetch_response'
OPERATION_GENERATE_CONTENT = 'generate_content'
OPERATION_HANDLE_CONVERSATION_TURN = 'handle_conversation_turn'
OPERATION_INVOKE_AGENT = 'invoke_agent'
OPERATION_INVOKE_WORKFLOW = 'invoke_workflow'
OPERATION_PLAN = 'plan'
OPERATION_RERANK = 'rerank'
OPERATION_RETRIEVAL = 'retrieval'
OPERATION_SEARCH_MEMORY = 'search_memory'
OPERATION_TEXT_COMPLETION = 'text_completion'
OPERATION_UPDATE_MEMORY = 'update_memory'
OPERATION_UPSERT_MEMORY = 'upsert_memory'

# Metric names (all profiles)
METRIC_GEN_AI_CLIENT_INFERENCE_DURATION = 'gen_ai.client.inference.duration'
METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS = 'gen_ai.client.inference.operation.input_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS = 'gen_ai.client.inference.operation.output_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK = 'gen_ai.client.inference.time_per_output_chunk'
METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK = 'gen_ai.client.inference.time_to_first_chunk'
METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.client.inference.usage.cache_read.input_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS = 'gen_ai.client.inference.usage.cache_write.input_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS = 'gen_ai.client.inference.usage.input_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS = 'gen_ai.client.inference.usage.output_tokens'
METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.client.inference.usage.reasoning.output_tokens'
METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration'
METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK = 'gen_ai.client.operation.time_per_output_chunk'
METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = 'gen_ai.client.operation.time_to_first_chunk'
METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage'
METRIC_GEN_AI_EXECUTE_TOOL_DURATION = 'gen_ai.execute_tool.duration'
METRIC_GEN_AI_INVOCATION_DURATION = 'gen_ai.invocation.duration'
METRIC_GEN_AI_INVOKE_AGENT_DURATION = 'gen_ai.invoke_agent.duration'
METRIC_GEN_AI_INVOKE_AGENT_INFERENCE_CALLS = 'gen_ai.invoke_agent.inference_calls'
METRIC_GEN_AI_INVOKE_AGENT_TOOL_CALLS = 'gen_ai.invoke_agent.tool_calls'
METRIC_GENAI_OTEL_EVALUATION_SCORE = 'genai_otel.evaluation.score'
METRIC_GENAI_OTEL_EVALUATION_SKIPPED = 'genai_otel.evaluation.skipped'
METRIC_GENAI_OTEL_EVALUATION_TRACES = 'genai_otel.evaluation.traces'

# Event names
EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS = 'gen_ai.client.inference.operation.details'
EVENT_GEN_AI_EVALUATION_RESULT = 'gen_ai.evaluation.result'

ATTRIBUTES = {'a2a.message.id': {'brief': 'The id of the A2A message in the request.',
                    'source': 'upstream',
                    'type': 'string'},
 'a2a.message.reference_task_ids': {'brief': 'Task ids the request message references.',
                                    'source': 'upstream',
                                    'type': 'string[]'},
 'a2a.method.name': {'brief': 'The A2A method (SendMessage, SendStreamingMessage, GetTask, ...).',
                     'source': 'upstream',
                     'type': 'string'},
 'a2a.protocol.version': {'brief': 'The A2A protocol version.', 'source': 'upstream', 'type': 'string'},
 'a2a.task.id': {'brief': 'The A2A task the request or response is about.',
                 'source': 'upstream',
                 'type': 'string'},
 'a2a.task.state': {'brief': "The task's state (TASK_STATE_COMPLETED, ...).",
                    'source': 'upstream',
                    'type': 'string'},
 'a2a.tenant': {'brief': 'The A2A tenant routing identifier.', 'source': 'upstream', 'type': 'string'},
 'aws.bedrock.guardrail.id': {'brief': 'The Bedrock Guardrail applied to the call.',
                              'source': 'upstream',
                              'type': 'string'},
 'db.collection.name': {'brief': 'The collection',
                        'index or table operated on.': None,
                        'source': 'upstream',
                        'type': 'string'},
 'db.namespace': {'brief': 'The database / tenant / namespace the collection lives in.',
                  'source': 'upstream',
                  'type': 'string'},
 'db.operation.batch.size': {'brief': 'Number of items in a batch write.',
                             'source': 'upstream',
                             'type': 'int'},
 'db.operation.name': {'brief': 'The operation (query, search, add, upsert, delete, get, insert, SELECT, '
                                '...).',
                       'source': 'upstream',
                       'type': 'string'},
 'db.response.returned_rows': {'brief': 'Number of rows (results) returned by the operation.',
                               'source': 'upstream',
                               'type': 'int'},
 'db.system.name': {'brief': 'The database product (chroma, qdrant, milvus, lancedb, postgresql, faiss, '
                             'pinecone, weaviate).',
                    'source': 'upstream',
                    'type': 'string'},
 'error.type': {'brief': 'Class of error the operation ended with.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.agent.description': {'brief': 'Agent description.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.agent.id': {'brief': 'Agent id.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.agent.name': {'brief': 'Agent name.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.agent.version': {'brief': 'Agent version.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.conversation.compacted': {'brief': 'Whether the conversation context is a compacted view (set only '
                                            'when true).',
                                   'source': 'upstream',
                                   'type': 'boolean'},
 'gen_ai.conversation.id': {'brief': 'Conversation/session id',
                            'only when the app or library has one.': None,
                            'source': 'upstream',
                            'type': 'string'},
 'gen_ai.data_source.id': {'brief': 'Id of the data source used for retrieval.',
                           'source': 'upstream',
                           'type': 'string'},
 'gen_ai.embeddings.dimension.count': {'brief': 'Number of dimensions of the returned embeddings.',
                                       'source': 'upstream',
                                       'type': 'int'},
 'gen_ai.evaluation.explanation': {'brief': 'Why the evaluator gave this score.',
                                   'source': 'upstream',
                                   'type': 'string'},
 'gen_ai.evaluation.name': {'brief': 'The name of the evaluation metric.',
                            'source': 'upstream',
                            'type': 'string'},
 'gen_ai.evaluation.score.label': {'brief': 'A human-readable label for the score.',
                                   'source': 'upstream',
                                   'type': 'string'},
 'gen_ai.evaluation.score.value': {'brief': 'The evaluation score.', 'source': 'upstream', 'type': 'double'},
 'gen_ai.input.messages': {'brief': 'Chat history given to the model (JSON',
                           'content': True,
                           'opt-in content).': None,
                           'source': 'upstream',
                           'type': 'any'},
 'gen_ai.input.messages_ref': {'brief': 'Where the input messages were uploaded (a URL of the content store; '
                                        "opentelemetry-util-genai's name: upstream has no reference "
                                        'attribute yet). Set instead of, or next to, gen_ai.input.messages '
                                        'when a completion hook uploads content.',
                               'source': 'opentelemetry-util-genai',
                               'type': 'string'},
 'gen_ai.invocation.is_nested': {'brief': 'Whether an in-process invocation is nested within another '
                                          'in-process invocation.',
                                 'source': 'upstream',
                                 'type': 'boolean'},
 'gen_ai.main_agent.description': {'brief': 'Description of the top-level agent in the process.',
                                   'source': 'upstream',
                                   'type': 'string'},
 'gen_ai.main_agent.id': {'brief': 'Stable id of the top-level agent in the process.',
                          'source': 'upstream',
                          'type': 'string'},
 'gen_ai.main_agent.name': {'brief': 'Name of the top-level agent in the process.',
                            'source': 'upstream',
                            'type': 'string'},
 'gen_ai.memory.query.text': {'brief': 'Memory search query (opt-in content).',
                              'content': True,
                              'source': 'upstream',
                              'type': 'string'},
 'gen_ai.memory.record.count': {'brief': 'Number of memory records relevant to the operation.',
                                'source': 'upstream',
                                'type': 'int'},
 'gen_ai.memory.record.id': {'brief': 'Id of the memory record.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.memory.records': {'brief': 'Memory records stored or retrieved (opt-in content).',
                           'content': True,
                           'source': 'upstream',
                           'type': 'any'},
 'gen_ai.memory.store.id': {'brief': 'Id of the memory store.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.operation.name': {'brief': 'The name of the operation being performed.',
                           'source': 'upstream',
                           'type': 'string'},
 'gen_ai.output.messages': {'brief': 'Messages returned by the model (JSON',
                            'content': True,
                            'opt-in content).': None,
                            'source': 'upstream',
                            'type': 'any'},
 'gen_ai.output.messages_ref': {'brief': 'Where the output messages were uploaded (a URL of the content '
                                         "store; opentelemetry-util-genai's name: upstream has no reference "
                                         'attribute yet). Set instead of, or next to, gen_ai.output.messages '
                                         'when a completion hook uploads content.',
                                'source': 'opentelemetry-util-genai',
                                'type': 'string'},
 'gen_ai.output.type': {'brief': 'Requested output type (text',
                        'image': None,
                        'json': None,
                        'source': 'upstream',
                        'speech).': None,
                        'type': 'string'},
 'gen_ai.prompt.name': {'brief': 'Name of the prompt template used.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.prompt.version': {'brief': 'Version of the prompt template used.',
                           'source': 'upstream',
                           'type': 'string'},
 'gen_ai.provider.name': {'brief': 'The GenAI provider as identified by the client instrumentation.',
                          'source': 'upstream',
                          'type': 'string'},
 'gen_ai.request.choice.count': {'brief': 'Number of candidate completions requested (set when not 1).',
                                 'source': 'upstream',
                                 'type': 'int'},
 'gen_ai.request.encoding_formats': {'brief': 'Encoding formats requested for embeddings.',
                                     'source': 'upstream',
                                     'type': 'string[]'},
 'gen_ai.request.frequency_penalty': {'brief': 'Frequency penalty.', 'source': 'upstream', 'type': 'double'},
 'gen_ai.request.max_tokens': {'brief': 'Maximum number of tokens the model may generate.',
                               'source': 'upstream',
                               'type': 'int'},
 'gen_ai.request.model': {'brief': 'The name of the model a request is being made to.',
                          'source': 'upstream',
                          'type': 'string'},
 'gen_ai.request.presence_penalty': {'brief': 'Presence penalty.', 'source': 'upstream', 'type': 'double'},
 'gen_ai.request.previous_response.id': {'brief': 'Id of a previous response the request continues from.',
                                         'source': 'upstream',
                                         'type': 'string'},
 'gen_ai.request.reasoning.level': {'brief': 'Reasoning / thinking effort requested (low, medium, high), as '
                                             'sent to the provider.',
                                    'source': 'upstream',
                                    'type': 'string'},
 'gen_ai.request.seed': {'brief': 'Seed for reproducible sampling.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.request.stop_sequences': {'brief': 'Sequences where the model stops generating.',
                                   'source': 'upstream',
                                   'type': 'string[]'},
 'gen_ai.request.stream': {'brief': 'Whether the response was requested as a stream.',
                           'source': 'upstream',
                           'type': 'boolean'},
 'gen_ai.request.stream_cursor': {'brief': 'Cursor of the last streamed event already received (resumed '
                                           'fetches).',
                                  'source': 'upstream',
                                  'type': 'string'},
 'gen_ai.request.temperature': {'brief': 'Sampling temperature.', 'source': 'upstream', 'type': 'double'},
 'gen_ai.request.top_k': {'brief': 'Top-k sampling parameter.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.request.top_p': {'brief': 'Nucleus sampling parameter.', 'source': 'upstream', 'type': 'double'},
 'gen_ai.response.finish_reasons': {'brief': 'Reasons the model stopped',
                                    'one per choice.': None,
                                    'source': 'upstream',
                                    'type': 'string[]'},
 'gen_ai.response.id': {'brief': 'Unique id of the completion.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.response.model': {'brief': 'Model that generated the response.',
                           'source': 'upstream',
                           'type': 'string'},
 'gen_ai.response.status': {'brief': 'Lifecycle status of a fetched response (queued, in_progress, '
                                     'completed, incomplete, failed, cancelled).',
                            'source': 'upstream',
                            'type': 'string'},
 'gen_ai.response.time_to_first_chunk': {'brief': 'Seconds from request to the first streamed chunk.',
                                         'source': 'upstream',
                                         'type': 'double'},
 'gen_ai.retrieval.documents': {'brief': 'Retrieved documents with id and score (opt-in content).',
                                'content': True,
                                'source': 'upstream',
                                'type': 'any'},
 'gen_ai.retrieval.query.text': {'brief': 'Retrieval query text (opt-in content).',
                                 'content': True,
                                 'source': 'upstream',
                                 'type': 'string'},
 'gen_ai.retrieval.top_k': {'brief': 'Number of documents requested from retrieval.',
                            'source': 'upstream',
                            'type': 'int'},
 'gen_ai.system': {'brief': 'Deprecated provider name (legacy profile).',
                   'deprecated': 'gen_ai.provider.name',
                   'source': 'upstream',
                   'type': 'string'},
 'gen_ai.system_instructions': {'brief': 'System instructions (JSON',
                                'content': True,
                                'opt-in content).': None,
                                'source': 'upstream',
                                'type': 'any'},
 'gen_ai.system_instructions_ref': {'brief': 'Where the system instructions were uploaded (a URL of the '
                                             "content store; opentelemetry-util-genai's name: upstream has "
                                             'no reference attribute yet). Set instead of, or next to, '
                                             'gen_ai.system_instructions when a completion hook uploads '
                                             'content.',
                                    'source': 'opentelemetry-util-genai',
                                    'type': 'string'},
 'gen_ai.token.modality': {'brief': 'Token modality on usage counter points (text, image, audio; unknown '
                                    'when the provider gives no breakdown or no usage).',
                           'source': 'upstream',
                           'type': 'string'},
 'gen_ai.token.type': {'brief': 'Token type on metric points (input',
                       'deprecated': 'gen_ai.token.modality',
                       'output). Legacy profile only (upstream removed it with gen_ai.client.token.usage).': None,
                       'source': 'upstream',
                       'type': 'string'},
 'gen_ai.tool.call.arguments': {'brief': 'Tool call arguments (opt-in content).',
                                'content': True,
                                'source': 'upstream',
                                'type': 'any'},
 'gen_ai.tool.call.id': {'brief': 'Tool call id.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.tool.call.result': {'brief': 'Tool call result (opt-in content).',
                             'content': True,
                             'source': 'upstream',
                             'type': 'any'},
 'gen_ai.tool.definitions': {'brief': 'Tool definitions given to the model (JSON',
                             'content': True,
                             'opt-in content).': None,
                             'source': 'upstream',
                             'type': 'any'},
 'gen_ai.tool.definitions_ref': {'brief': 'Where the tool definitions were uploaded (a URL of the content '
                                          "store; opentelemetry-util-genai's name: upstream has no reference "
                                          'attribute yet). Set instead of, or next to, '
                                          'gen_ai.tool.definitions when a completion hook uploads content.',
                                 'source': 'opentelemetry-util-genai',
                                 'type': 'string'},
 'gen_ai.tool.description': {'brief': 'Tool description.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.tool.name': {'brief': 'Name of the tool.', 'source': 'upstream', 'type': 'string'},
 'gen_ai.tool.type': {'brief': 'Tool type (function',
                      'datastore).': None,
                      'extension': None,
                      'source': 'upstream',
                      'type': 'string'},
 'gen_ai.usage.audio.cache_read.input_tokens': {'brief': 'Audio input tokens served from the provider cache.',
                                                'source': 'upstream',
                                                'type': 'int'},
 'gen_ai.usage.audio.input_tokens': {'brief': 'Audio input tokens.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.usage.audio.output_tokens': {'brief': 'Audio output tokens.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.usage.cache_read.input_tokens': {'brief': 'Input tokens served from the provider cache.',
                                          'source': 'upstream',
                                          'type': 'int'},
 'gen_ai.usage.cache_write.input_tokens': {'brief': 'Input tokens written to the provider cache.',
                                           'source': 'upstream',
                                           'type': 'int'},
 'gen_ai.usage.completion_tokens': {'brief': 'Deprecated output token count.',
                                    'deprecated': 'gen_ai.usage.output_tokens',
                                    'source': 'upstream',
                                    'type': 'int'},
 'gen_ai.usage.image.cache_read.input_tokens': {'brief': 'Image input tokens served from the provider cache.',
                                                'source': 'upstream',
                                                'type': 'int'},
 'gen_ai.usage.image.input_tokens': {'brief': 'Image input tokens.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.usage.image.output_tokens': {'brief': 'Image output tokens.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.usage.input_tokens': {'brief': 'Input tokens',
                               'including cached tokens.': None,
                               'source': 'upstream',
                               'type': 'int'},
 'gen_ai.usage.output_tokens': {'brief': 'Output tokens',
                                'including reasoning tokens.': None,
                                'source': 'upstream',
                                'type': 'int'},
 'gen_ai.usage.prompt_tokens': {'brief': 'Deprecated input token count.',
                                'deprecated': 'gen_ai.usage.input_tokens',
                                'source': 'upstream',
                                'type': 'int'},
 'gen_ai.usage.reasoning.output_tokens': {'brief': 'Output tokens spent on reasoning.',
                                          'source': 'upstream',
                                          'type': 'int'},
 'gen_ai.usage.text.cache_read.input_tokens': {'brief': 'Text input tokens served from the provider cache.',
                                               'source': 'upstream',
                                               'type': 'int'},
 'gen_ai.usage.text.input_tokens': {'brief': 'Text input tokens (when reported per modality).',
                                    'source': 'upstream',
                                    'type': 'int'},
 'gen_ai.usage.text.output_tokens': {'brief': 'Text output tokens.', 'source': 'upstream', 'type': 'int'},
 'gen_ai.workflow.name': {'brief': 'Human-readable',
                          'low-cardinality name of the workflow.': None,
                          'source': 'upstream',
                          'type': 'string'},
 'genai_otel.agent.hops': {'brief': 'Agent invocations along this trace up to and including this one (across '
                                    'services).',
                           'source': 'genai_otel',
                           'type': 'int'},
 'genai_otel.agent.path': {'brief': "Agents from the trace's first agent to this one, joined by '>' "
                                    '(propagated as baggage; last 16 kept).',
                           'source': 'genai_otel',
                           'type': 'string'},
 'genai_otel.agent.steps': {'brief': 'Model and tool calls made within this agent invocation.',
                            'source': 'genai_otel',
                            'type': 'int'},
 'genai_otel.component.name': {'brief': 'The framework component this span is: its name in the pipeline '
                                        '(Haystack).',
                               'source': 'genai_otel',
                               'type': 'string'},
 'genai_otel.component.type': {'brief': "The framework component's class (OpenAIChatGenerator, "
                                        'ChromaEmbeddingRetriever, ...).',
                               'source': 'genai_otel',
                               'type': 'string'},
 'genai_otel.content.truncated': {'brief': 'Names of content attributes cut to the configured size cap.',
                                  'source': 'genai_otel',
                                  'type': 'string[]'},
 'genai_otel.evaluation.closed_by': {'brief': 'Why the trace window judged a trace '
                                              '(genai_otel.evaluation.traces): idle, max_age, max_traces '
                                              '(the oldest judged early to make room) or shutdown.',
                                     'source': 'genai_otel',
                                     'type': 'string'},
 'genai_otel.evaluation.skip_reason': {'brief': 'Why evaluations were not run '
                                                '(genai_otel.evaluation.skipped): operation, model, agent, '
                                                'cost, trace_sampled_out, ratio, budget, behind (the '
                                                'evaluation pool was full), span_limit (the span was past '
                                                "the trace window's max_spans_per_trace).",
                                       'source': 'genai_otel',
                                       'type': 'string'},
 'genai_otel.loop.repeats': {'brief': "Set by the processor's loop-flag rule: how often this agent or tool "
                                      'call (same name, same input) occurred in the trace so far, once at or '
                                      "over the rule's threshold.",
                             'source': 'genai_otel',
                             'type': 'int'},
 'genai_otel.loop_guard.limit': {'brief': "The loop-guard limit this span's agent run hit: hops or steps.",
                                 'source': 'genai_otel',
                                 'type': 'string'},
 'genai_otel.loop_guard.maximum': {'brief': 'On the loop-guard event: the configured limit.',
                                   'source': 'genai_otel',
                                   'type': 'int'},
 'genai_otel.loop_guard.value': {'brief': 'On the loop-guard event: the hop or step count that went over the '
                                          'limit.',
                                 'source': 'genai_otel',
                                 'type': 'int'},
 'genai_otel.redacted': {'brief': 'Content attributes in which the redaction rule replaced PII or secrets.',
                         'source': 'genai_otel',
                         'type': 'string[]'},
 'genai_otel.usage.cost': {'brief': 'Cost of the call in USD, from the price table (conventions/prices.yaml '
                                    'or your own).',
                           'source': 'genai_otel',
                           'type': 'double'},
 'genai_otel.vector.dimension': {'brief': 'Dimension of the query or written vectors (the vectors themselves '
                                          'are never recorded).',
                                 'source': 'genai_otel',
                                 'type': 'int'},
 'genai_otel.vector.filtered': {'brief': 'Whether the vector query carried a metadata filter.',
                                'source': 'genai_otel',
                                'type': 'boolean'},
 'messaging.batch.message_count': {'brief': 'Number of messages in a batch operation.',
                                   'source': 'upstream',
                                   'type': 'int'},
 'messaging.consumer.group.name': {'brief': 'The consumer group receiving the message.',
                                   'source': 'upstream',
                                   'type': 'string'},
 'messaging.destination.name': {'brief': 'The queue',
                                'source': 'upstream',
                                'stream or subject.': None,
                                'topic': None,
                                'type': 'string'},
 'messaging.message.id': {'brief': 'The message id assigned by the system.',
                          'source': 'upstream',
                          'type': 'string'},
 'messaging.operation.name': {'brief': 'The system-specific operation name (xadd',
                              'process).': None,
                              'publish': None,
                              'source': 'upstream',
                              'type': 'string'},
 'messaging.operation.type': {'brief': 'send',
                              'create or settle.': None,
                              'process': None,
                              'receive': None,
                              'source': 'upstream',
                              'type': 'string'},
 'messaging.system': {'brief': 'The messaging system (rabbitmq',
                      'kafka': None,
                      'nats': None,
                      'redis).': None,
                      'source': 'upstream',
                      'type': 'string'},
 'openai.api.type': {'brief': 'OpenAI API used (chat_completions',
                     'responses).': None,
                     'source': 'upstream',
                     'type': 'string'},
 'openai.request.service_tier': {'brief': 'OpenAI service tier requested.',
                                 'source': 'upstream',
                                 'type': 'string'},
 'openai.response.service_tier': {'brief': 'OpenAI service tier used.',
                                  'source': 'upstream',
                                  'type': 'string'},
 'openai.response.system_fingerprint': {'brief': 'OpenAI system fingerprint.',
                                        'source': 'upstream',
                                        'type': 'string'},
 'server.address': {'brief': 'GenAI server host.', 'source': 'upstream', 'type': 'string'},
 'server.port': {'brief': 'GenAI server port.', 'source': 'upstream', 'type': 'int'}}

CONTENT_ATTRIBUTES = ['gen_ai.input.messages',
 'gen_ai.memory.query.text',
 'gen_ai.memory.records',
 'gen_ai.output.messages',
 'gen_ai.retrieval.documents',
 'gen_ai.retrieval.query.text',
 'gen_ai.system_instructions',
 'gen_ai.tool.call.arguments',
 'gen_ai.tool.call.result',
 'gen_ai.tool.definitions']

SPAN_SHAPES = {'a2a': {'attributes': {'a2a.message.id': 'conditionally_required',
                        'a2a.message.reference_task_ids': 'recommended',
                        'a2a.method.name': 'required',
                        'a2a.protocol.version': 'recommended',
                        'a2a.task.id': 'conditionally_required',
                        'a2a.task.state': 'conditionally_required',
                        'a2a.tenant': 'conditionally_required',
                        'error.type': 'conditionally_required',
                        'gen_ai.agent.description': 'conditionally_required',
                        'gen_ai.agent.name': 'conditionally_required',
                        'gen_ai.agent.version': 'conditionally_required',
                        'gen_ai.conversation.id': 'conditionally_required',
                        'server.address': 'recommended',
                        'server.port': 'recommended'},
         'key': 'a2a.method.name',
         'kinds': ['CLIENT', 'SERVER'],
         'name': '{a2a.method.name}',
         'operations': ['SendMessage',
                        'SendStreamingMessage',
                        'GetTask',
                        'ListTasks',
                        'CancelTask',
                        'SubscribeToTask',
                        'CreateTaskPushNotificationConfig',
                        'GetTaskPushNotificationConfig',
                        'ListTaskPushNotificationConfigs',
                        'DeleteTaskPushNotificationConfig',
                        'GetExtendedAgentCard']},
 'agent': {'attributes': {'error.type': 'conditionally_required',
                          'gen_ai.agent.description': 'conditionally_required',
                          'gen_ai.agent.id': 'conditionally_required',
                          'gen_ai.agent.name': 'conditionally_required',
                          'gen_ai.agent.version': 'conditionally_required',
                          'gen_ai.conversation.id': 'conditionally_required',
                          'gen_ai.data_source.id': 'conditionally_required',
                          'gen_ai.input.messages': 'opt_in',
                          'gen_ai.input.messages_ref': 'opt_in',
                          'gen_ai.operation.name': 'required',
                          'gen_ai.output.messages': 'opt_in',
                          'gen_ai.output.messages_ref': 'opt_in',
                          'gen_ai.output.type': 'conditionally_required',
                          'gen_ai.provider.name': 'recommended',
                          'gen_ai.request.choice.count': 'conditionally_required',
                          'gen_ai.request.frequency_penalty': 'recommended',
                          'gen_ai.request.max_tokens': 'recommended',
                          'gen_ai.request.model': 'recommended',
                          'gen_ai.request.presence_penalty': 'recommended',
                          'gen_ai.request.previous_response.id': 'recommended',
                          'gen_ai.request.seed': 'conditionally_required',
                          'gen_ai.request.stop_sequences': 'recommended',
                          'gen_ai.request.temperature': 'recommended',
                          'gen_ai.request.top_p': 'recommended',
                          'gen_ai.response.finish_reasons': 'recommended',
                          'gen_ai.system_instructions': 'opt_in',
                          'gen_ai.system_instructions_ref': 'opt_in',
                          'gen_ai.tool.definitions': 'opt_in',
                          'gen_ai.tool.definitions_ref': 'opt_in',
                          'gen_ai.usage.audio.cache_read.input_tokens': 'recommended',
                          'gen_ai.usage.audio.input_tokens': 'recommended',
                          'gen_ai.usage.audio.output_tokens': 'recommended',
                          'gen_ai.usage.cache_read.input_tokens': 'recommended',
                          'gen_ai.usage.cache_write.input_tokens': 'recommended',
                          'gen_ai.usage.image.cache_read.input_tokens': 'recommended',
                          'gen_ai.usage.image.input_tokens': 'recommended',
                          'gen_ai.usage.image.output_tokens': 'recommended',
                          'gen_ai.usage.input_tokens': 'recommended',
                          'gen_ai.usage.output_tokens': 'recommended',
                          'gen_ai.usage.text.cache_read.input_tokens': 'recommended',
                          'gen_ai.usage.text.input_tokens': 'recommended',
                          'gen_ai.usage.text.output_tokens': 'recommended',
                          'gen_ai.workflow.name': 'conditionally_required',
                          'genai_otel.agent.steps': 'recommended',
                          'server.address': 'recommended',
                          'server.port': 'conditionally_required'},
           'kinds': ['CLIENT', 'INTERNAL'],
           'name': '{gen_ai.operation.name} {gen_ai.workflow.name|gen_ai.agent.name}',
           'operations': ['invoke_agent', 'create_agent', 'invoke_workflow', 'handle_conversation_turn'],
           'upstream': ['gen_ai.invocation.internal',
                        'gen_ai.invoke_agent.client',
                        'gen_ai.create_agent.client']},
 'embeddings': {'attributes': {'error.type': 'conditionally_required',
                               'gen_ai.embeddings.dimension.count': 'recommended',
                               'gen_ai.operation.name': 'required',
                               'gen_ai.provider.name': 'required',
                               'gen_ai.request.encoding_formats': 'recommended',
                               'gen_ai.request.model': 'conditionally_required',
                               'gen_ai.response.model': 'recommended',
                               'gen_ai.usage.input_tokens': 'recommended',
                               'server.address': 'recommended',
                               'server.port': 'conditionally_required'},
                'kinds': ['CLIENT', 'INTERNAL'],
                'name': '{gen_ai.operation.name} {gen_ai.request.model}',
                'operations': ['embeddings'],
                'upstream': ['gen_ai.embeddings.client']},
 'execute_tool': {'attributes': {'error.type': 'conditionally_required',
                                 'gen_ai.agent.name': 'conditionally_required',
                                 'gen_ai.conversation.id': 'conditionally_required',
                                 'gen_ai.operation.name': 'required',
                                 'gen_ai.tool.call.arguments': 'opt_in',
                                 'gen_ai.tool.call.id': 'recommended',
                                 'gen_ai.tool.call.result': 'opt_in',
                                 'gen_ai.tool.description': 'recommended',
                                 'gen_ai.tool.name': 'recommended',
                                 'gen_ai.tool.type': 'recommended'},
                  'kinds': ['INTERNAL', 'CLIENT'],
                  'name': '{gen_ai.operation.name} {gen_ai.tool.name}',
                  'operations': ['execute_tool'],
                  'upstream': ['gen_ai.execute_tool.internal']},
 'fetch_response': {'attributes': {'error.type': 'conditionally_required',
                                   'gen_ai.operation.name': 'required',
                                   'gen_ai.output.messages': 'opt_in',
                                   'gen_ai.output.messages_ref': 'opt_in',
                                   'gen_ai.provider.name': 'required',
                                   'gen_ai.request.stream_cursor': 'conditionally_required',
                                   'gen_ai.response.finish_reasons': 'recommended',
                                   'gen_ai.response.id': 'required',
                                   'gen_ai.response.model': 'recommended',
                                   'gen_ai.response.status': 'recommended',
                                   'gen_ai.system_instructions': 'opt_in',
                                   'gen_ai.system_instructions_ref': 'opt_in',
                                   'gen_ai.tool.definitions': 'opt_in',
                                   'gen_ai.tool.definitions_ref': 'opt_in',
                                   'server.address': 'recommended',
                                   'server.port': 'conditionally_required'},
                    'kinds': ['CLIENT'],
                    'name': '{gen_ai.operation.name}',
                    'operations': ['fetch_response'],
                    'upstream': ['gen_ai.fetch_response.client']},
 'inference': {'attributes': {'aws.bedrock.guardrail.id': 'conditionally_required',
                              'error.type': 'conditionally_required',
                              'gen_ai.conversation.compacted': 'recommended',
                              'gen_ai.conversation.id': 'conditionally_required',
                              'gen_ai.input.messages': 'opt_in',
                              'gen_ai.input.messages_ref': 'opt_in',
                              'gen_ai.operation.name': 'required',
                              'gen_ai.output.messages': 'opt_in',
                              'gen_ai.output.messages_ref': 'opt_in',
                              'gen_ai.output.type': 'conditionally_required',
                              'gen_ai.prompt.name': 'conditionally_required',
                              'gen_ai.prompt.version': 'conditionally_required',
                              'gen_ai.provider.name': 'required',
                              'gen_ai.request.choice.count': 'conditionally_required',
                              'gen_ai.request.frequency_penalty': 'recommended',
                              'gen_ai.request.max_tokens': 'recommended',
                              'gen_ai.request.model': 'conditionally_required',
                              'gen_ai.request.presence_penalty': 'recommended',
                              'gen_ai.request.previous_response.id': 'recommended',
                              'gen_ai.request.reasoning.level': 'recommended',
                              'gen_ai.request.seed': 'conditionally_required',
                              'gen_ai.request.stop_sequences': 'recommended',
                              'gen_ai.request.stream': 'conditionally_required',
                              'gen_ai.request.temperature': 'recommended',
                              'gen_ai.request.top_k': 'conditionally_required',
                              'gen_ai.request.top_p': 'recommended',
                              'gen_ai.response.finish_reasons': 'recommended',
                              'gen_ai.response.id': 'recommended',
                              'gen_ai.response.model': 'recommended',
                              'gen_ai.response.time_to_first_chunk': 'recommended',
                              'gen_ai.system_instructions': 'opt_in',
                              'gen_ai.system_instructions_ref': 'opt_in',
                              'gen_ai.tool.definitions': 'opt_in',
                              'gen_ai.tool.definitions_ref': 'opt_in',
                              'gen_ai.usage.audio.cache_read.input_tokens': 'recommended',
                              'gen_ai.usage.audio.input_tokens': 'recommended',
                              'gen_ai.usage.audio.output_tokens': 'recommended',
                              'gen_ai.usage.cache_read.input_tokens': 'recommended',
                              'gen_ai.usage.cache_write.input_tokens': 'recommended',
                              'gen_ai.usage.image.cache_read.input_tokens': 'recommended',
                              'gen_ai.usage.image.input_tokens': 'recommended',
                              'gen_ai.usage.image.output_tokens': 'recommended',
                              'gen_ai.usage.input_tokens': 'recommended',
                              'gen_ai.usage.output_tokens': 'recommended',
                              'gen_ai.usage.reasoning.output_tokens': 'recommended',
                              'gen_ai.usage.text.cache_read.input_tokens': 'recommended',
                              'gen_ai.usage.text.input_tokens': 'recommended',
                              'gen_ai.usage.text.output_tokens': 'recommended',
                              'openai.api.type': 'recommended',
                              'openai.request.service_tier': 'conditionally_required',
                              'openai.response.service_tier': 'conditionally_required',
                              'openai.response.system_fingerprint': 'recommended',
                              'server.address': 'recommended',
                              'server.port': 'conditionally_required'},
               'kinds': ['CLIENT', 'INTERNAL'],
               'name': '{gen_ai.operation.name} {gen_ai.request.model}',
               'operations': ['chat', 'text_completion', 'generate_content'],
               'upstream': ['gen_ai.client.inference']},
 'memory': {'attributes': {'error.type': 'conditionally_required',
                           'gen_ai.memory.query.text': 'opt_in',
                           'gen_ai.memory.record.count': 'recommended',
                           'gen_ai.memory.record.id': 'conditionally_required',
                           'gen_ai.memory.records': 'opt_in',
                           'gen_ai.memory.store.id': 'conditionally_required',
                           'gen_ai.operation.name': 'required',
                           'gen_ai.provider.name': 'conditionally_required',
                           'server.address': 'recommended',
                           'server.port': 'conditionally_required'},
            'kinds': ['CLIENT', 'INTERNAL'],
            'name': '{gen_ai.operation.name}',
            'operations': ['search_memory',
                           'create_memory',
                           'update_memory',
                           'upsert_memory',
                           'delete_memory',
                           'create_memory_store',
                           'delete_memory_store'],
            'upstream': ['gen_ai.memory.client']},
 'messaging': {'attributes': {'error.type': 'conditionally_required',
                              'messaging.batch.message_count': 'conditionally_required',
                              'messaging.consumer.group.name': 'conditionally_required',
                              'messaging.destination.name': 'conditionally_required',
                              'messaging.message.id': 'recommended',
                              'messaging.operation.name': 'required',
                              'messaging.operation.type': 'required',
                              'messaging.system': 'required',
                              'server.address': 'recommended',
                              'server.port': 'recommended'},
               'key': 'messaging.operation.type',
               'kinds': ['PRODUCER', 'CONSUMER', 'CLIENT'],
               'name': '{messaging.operation.name} {messaging.destination.name}',
               'operations': ['send', 'receive', 'process', 'create', 'settle']},
 'plan': {'attributes': {'error.type': 'conditionally_required',
                         'gen_ai.agent.name': 'conditionally_required',
                         'gen_ai.operation.name': 'required'},
          'kinds': ['INTERNAL'],
          'name': '{gen_ai.operation.name} {gen_ai.agent.name}',
          'operations': ['plan'],
          'upstream': ['gen_ai.plan.internal']},
 'rerank': {'attributes': {'error.type': 'conditionally_required',
                           'gen_ai.operation.name': 'required',
                           'gen_ai.provider.name': 'required',
                           'gen_ai.request.model': 'conditionally_required',
                           'gen_ai.response.id': 'recommended',
                           'gen_ai.retrieval.documents': 'opt_in',
                           'gen_ai.retrieval.query.text': 'opt_in',
                           'gen_ai.retrieval.top_k': 'recommended',
                           'server.address': 'recommended',
                           'server.port': 'conditionally_required'},
            'kinds': ['CLIENT'],
            'name': '{gen_ai.operation.name} {gen_ai.request.model}',
            'operations': ['rerank']},
 'retrieval': {'attributes': {'error.type': 'conditionally_required',
                              'gen_ai.data_source.id': 'conditionally_required',
                              'gen_ai.operation.name': 'required',
                              'gen_ai.provider.name': 'conditionally_required',
                              'gen_ai.request.model': 'conditionally_required',
                              'gen_ai.retrieval.documents': 'opt_in',
                              'gen_ai.retrieval.query.text': 'opt_in',
                              'gen_ai.retrieval.top_k': 'recommended',
                              'server.address': 'recommended',
                              'server.port': 'conditionally_required'},
               'kinds': ['CLIENT', 'INTERNAL'],
               'name': '{gen_ai.operation.name} {gen_ai.data_source.id}',
               'operations': ['retrieval'],
               'upstream': ['gen_ai.retrieval.client']},
 'vector_db': {'attributes': {'db.collection.name': 'conditionally_required',
                              'db.namespace': 'conditionally_required',
                              'db.operation.batch.size': 'conditionally_required',
                              'db.operation.name': 'required',
                              'db.response.returned_rows': 'recommended',
                              'db.system.name': 'required',
                              'error.type': 'conditionally_required',
                              'gen_ai.retrieval.documents': 'opt_in',
                              'gen_ai.retrieval.query.text': 'opt_in',
                              'gen_ai.retrieval.top_k': 'recommended',
                              'genai_otel.vector.dimension': 'recommended',
                              'genai_otel.vector.filtered': 'recommended',
                              'server.address': 'recommended',
                              'server.port': 'conditionally_required'},
               'key': 'db.system.name',
               'kinds': ['CLIENT'],
               'name': '{db.operation.name} {db.collection.name}',
               'operations': ['chroma',
                              'qdrant',
                              'milvus',
                              'lancedb',
                              'postgresql',
                              'faiss',
                              'pinecone',
                              'weaviate']}}

COMMON_SPAN_ATTRIBUTES = ['genai_otel.content.truncated',
 'genai_otel.usage.cost',
 'genai_otel.redacted',
 'genai_otel.agent.path',
 'genai_otel.agent.hops',
 'genai_otel.loop_guard.limit',
 'genai_otel.component.name',
 'genai_otel.component.type',
 'genai_otel.loop.repeats']

METRIC_BUCKETS = {'calls': [0, 1, 2, 4, 8, 16, 32, 64, 128],
 'db_duration': [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
 'duration': [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
 'rows': [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
 'tokens': [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]}

METRIC_POINT_ATTRIBUTES = ['gen_ai.operation.name',
 'gen_ai.provider.name',
 'gen_ai.request.model',
 'gen_ai.response.model',
 'server.address',
 'server.port',
 'error.type']

DEFAULT_METRIC_PROFILE = 'latest'

METRIC_PROFILES = {'latest': {'brief': 'semantic-conventions-genai at the commit pinned in conventions/UPSTREAM.yaml.',
            'metrics': [{'applies_to': 'inference',
                         'brief': 'GenAI client inference operation duration.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'duration',
                         'name': 'gen_ai.client.inference.duration',
                         'unit': 's'},
                        {'applies_to': 'other',
                         'brief': 'GenAI operation duration (not for inference).',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'duration',
                         'name': 'gen_ai.client.operation.duration',
                         'requires': ['gen_ai.operation.name'],
                         'unit': 's'},
                        {'applies_to': 'agent',
                         'attributes': ['gen_ai.agent.name',
                                        'gen_ai.workflow.name',
                                        'gen_ai.invocation.is_nested'],
                         'brief': 'End-to-end duration of an in-process conversation turn, workflow or agent '
                                  'invocation.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'duration',
                         'name': 'gen_ai.invocation.duration',
                         'requires': ['gen_ai.operation.name', 'gen_ai.invocation.is_nested'],
                         'unit': 's'},
                        {'applies_to': 'tool',
                         'attributes': ['gen_ai.tool.name', 'gen_ai.tool.type', 'gen_ai.agent.name'],
                         'brief': 'The duration of a single tool execution.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'duration',
                         'name': 'gen_ai.execute_tool.duration',
                         'requires': ['gen_ai.tool.name'],
                         'unit': 's'},
                        {'applies_to': 'agent',
                         'attributes': ['gen_ai.agent.name'],
                         'base_attributes': False,
                         'brief': 'The number of inference (model) calls a GenAI agent makes during a single '
                                  'invocation.',
                         'buckets': 'calls',
                         'instrument': 'histogram',
                         'measure': 'inference_calls',
                         'name': 'gen_ai.invoke_agent.inference_calls',
                         'requires': [],
                         'unit': '{inference_call}'},
                        {'applies_to': 'agent',
                         'attributes': ['gen_ai.agent.name'],
                         'base_attributes': False,
                         'brief': 'The number of tool calls a GenAI agent makes during a single invocation.',
                         'buckets': 'calls',
                         'instrument': 'histogram',
                         'measure': 'tool_calls',
                         'name': 'gen_ai.invoke_agent.tool_calls',
                         'requires': [],
                         'unit': '{tool_call}'},
                        {'applies_to': 'inference',
                         'brief': 'Time to the first chunk of a streamed response.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'time_to_first_chunk',
                         'name': 'gen_ai.client.inference.time_to_first_chunk',
                         'unit': 's'},
                        {'applies_to': 'inference',
                         'brief': 'Time between chunks after the first.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'time_per_output_chunk',
                         'name': 'gen_ai.client.inference.time_per_output_chunk',
                         'unit': 's'},
                        {'applies_to': 'inference',
                         'brief': 'Input (prompt) tokens used, including cached tokens.',
                         'instrument': 'counter',
                         'measure': 'input_tokens',
                         'modality': True,
                         'name': 'gen_ai.client.inference.usage.input_tokens',
                         'record_failed': True,
                         'requires': ['gen_ai.operation.name',
                                      'gen_ai.provider.name',
                                      'gen_ai.token.modality'],
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Output (completion) tokens used, including reasoning tokens.',
                         'instrument': 'counter',
                         'measure': 'output_tokens',
                         'modality': True,
                         'name': 'gen_ai.client.inference.usage.output_tokens',
                         'record_failed': True,
                         'requires': ['gen_ai.operation.name',
                                      'gen_ai.provider.name',
                                      'gen_ai.token.modality'],
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Input tokens served from a provider-managed cache.',
                         'instrument': 'counter',
                         'measure': 'cache_read_input_tokens',
                         'modality': True,
                         'name': 'gen_ai.client.inference.usage.cache_read.input_tokens',
                         'record_failed': True,
                         'requires': ['gen_ai.operation.name',
                                      'gen_ai.provider.name',
                                      'gen_ai.token.modality'],
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Input tokens written to a provider-managed cache.',
                         'instrument': 'counter',
                         'measure': 'cache_write_input_tokens',
                         'modality': True,
                         'name': 'gen_ai.client.inference.usage.cache_write.input_tokens',
                         'record_failed': True,
                         'requires': ['gen_ai.operation.name',
                                      'gen_ai.provider.name',
                                      'gen_ai.token.modality'],
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Output tokens used for reasoning.',
                         'instrument': 'counter',
                         'measure': 'reasoning_output_tokens',
                         'modality': True,
                         'name': 'gen_ai.client.inference.usage.reasoning.output_tokens',
                         'record_failed': True,
                         'requires': ['gen_ai.operation.name',
                                      'gen_ai.provider.name',
                                      'gen_ai.token.modality'],
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Input (prompt) tokens used per inference operation.',
                         'buckets': 'tokens',
                         'instrument': 'histogram',
                         'measure': 'input_tokens',
                         'name': 'gen_ai.client.inference.operation.input_tokens',
                         'record_failed': True,
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Output (completion) tokens used per inference operation.',
                         'buckets': 'tokens',
                         'instrument': 'histogram',
                         'measure': 'output_tokens',
                         'name': 'gen_ai.client.inference.operation.output_tokens',
                         'record_failed': True,
                         'unit': '{token}'}],
            'span_aliases': {}},
 'legacy': {'brief': 'GenAI conventions as in semantic-conventions v1.36-v1.38 (still read by most '
                     'dashboards).',
            'metrics': [{'applies_to': ['inference', 'other'],
                         'brief': 'GenAI operation duration.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'duration',
                         'name': 'gen_ai.client.operation.duration',
                         'unit': 's'},
                        {'applies_to': ['inference', 'other'],
                         'brief': 'Number of input and output tokens used.',
                         'buckets': 'tokens',
                         'instrument': 'histogram',
                         'measure': 'tokens_by_type',
                         'name': 'gen_ai.client.token.usage',
                         'unit': '{token}'},
                        {'applies_to': 'inference',
                         'brief': 'Time to receive the first chunk.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'time_to_first_chunk',
                         'name': 'gen_ai.client.operation.time_to_first_chunk',
                         'unit': 's'},
                        {'applies_to': 'inference',
                         'brief': 'Time per output chunk after the first.',
                         'buckets': 'duration',
                         'instrument': 'histogram',
                         'measure': 'time_per_output_chunk',
                         'name': 'gen_ai.client.operation.time_per_output_chunk',
                         'unit': 's'}],
            'span_aliases': {'gen_ai.provider.name': 'gen_ai.system',
                             'gen_ai.usage.input_tokens': 'gen_ai.usage.prompt_tokens',
                             'gen_ai.usage.output_tokens': 'gen_ai.usage.completion_tokens'},
            'upstream': False},
 'v0_1': {'brief': 'The set genai-otel 0.1 emitted as `latest` (modelled on semantic-conventions-genai '
                   'v0.1.0): kept so dashboards built on it keep working.',
          'metrics': [{'applies_to': 'inference',
                       'brief': 'Duration of a GenAI inference operation.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'duration',
                       'name': 'gen_ai.client.inference.duration',
                       'unit': 's'},
                      {'applies_to': 'other',
                       'brief': 'Duration of a non-inference GenAI operation.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'duration',
                       'name': 'gen_ai.client.operation.duration',
                       'unit': 's'},
                      {'applies_to': 'agent',
                       'brief': 'Duration of an agent invocation.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'duration',
                       'name': 'gen_ai.invoke_agent.duration',
                       'requires': ['gen_ai.operation.name'],
                       'unit': 's'},
                      {'applies_to': 'tool',
                       'brief': 'Duration of a tool execution.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'duration',
                       'name': 'gen_ai.execute_tool.duration',
                       'requires': ['gen_ai.operation.name'],
                       'unit': 's'},
                      {'applies_to': 'inference',
                       'brief': 'Time to the first chunk of a streamed response.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'time_to_first_chunk',
                       'name': 'gen_ai.client.inference.time_to_first_chunk',
                       'unit': 's'},
                      {'applies_to': 'inference',
                       'brief': 'Time between chunks after the first.',
                       'buckets': 'duration',
                       'instrument': 'histogram',
                       'measure': 'time_per_output_chunk',
                       'name': 'gen_ai.client.inference.time_per_output_chunk',
                       'unit': 's'},
                      {'applies_to': ['inference', 'other', 'tool'],
                       'brief': 'Input tokens used (includes cached).',
                       'instrument': 'counter',
                       'measure': 'input_tokens',
                       'name': 'gen_ai.client.inference.usage.input_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Output tokens used (includes reasoning).',
                       'instrument': 'counter',
                       'measure': 'output_tokens',
                       'name': 'gen_ai.client.inference.usage.output_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Input tokens read from cache.',
                       'instrument': 'counter',
                       'measure': 'cache_read_input_tokens',
                       'name': 'gen_ai.client.inference.usage.cache_read.input_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Input tokens written to cache.',
                       'instrument': 'counter',
                       'measure': 'cache_write_input_tokens',
                       'name': 'gen_ai.client.inference.usage.cache_write.input_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Reasoning output tokens.',
                       'instrument': 'counter',
                       'measure': 'reasoning_output_tokens',
                       'name': 'gen_ai.client.inference.usage.reasoning.output_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Input tokens per inference operation.',
                       'buckets': 'tokens',
                       'instrument': 'histogram',
                       'measure': 'input_tokens',
                       'name': 'gen_ai.client.inference.operation.input_tokens',
                       'unit': '{token}'},
                      {'applies_to': 'inference',
                       'brief': 'Output tokens per inference operation.',
                       'buckets': 'tokens',
                       'instrument': 'histogram',
                       'measure': 'output_tokens',
                       'name': 'gen_ai.client.inference.operation.output_tokens',
                       'unit': '{token}'}],
          'span_aliases': {},
          'upstream': False}}

DB_METRICS = [{'brief': 'Duration of a database client operation.',
  'buckets': 'db_duration',
  'instrument': 'histogram',
  'measure': 'duration',
  'name': 'db.client.operation.duration',
  'unit': 's'},
 {'brief': 'Rows returned by a database client operation.',
  'buckets': 'rows',
  'instrument': 'histogram',
  'measure': 'returned_rows',
  'name': 'db.client.response.returned_rows',
  'unit': '{row}'}]

DB_METRIC_POINT_ATTRIBUTES = ['db.system.name',
 'db.operation.name',
 'db.collection.name',
 'db.namespace',
 'server.address',
 'server.port',
 'error.type']

EVALUATION_METRICS = [{'attributes': ['gen_ai.evaluation.name',
                 'gen_ai.evaluation.score.label',
                 'gen_ai.request.model',
                 'gen_ai.agent.name'],
  'brief': 'Scores of gen_ai.evaluation.result events, per evaluator (evaluators scoring 0-1).',
  'buckets': 'score',
  'instrument': 'histogram',
  'name': 'genai_otel.evaluation.score',
  'unit': '1'},
 {'attributes': ['gen_ai.evaluation.name', 'genai_otel.evaluation.skip_reason'],
  'brief': "Evaluations not run, by reason (sampling, budget, the pool behind, the trace window's span "
           'limit).',
  'instrument': 'counter',
  'name': 'genai_otel.evaluation.skipped',
  'unit': '{evaluation}'},
 {'attributes': ['genai_otel.evaluation.closed_by'],
  'brief': 'Traces the trace window handed to the trace-aware evaluators, by why it closed them.',
  'instrument': 'counter',
  'name': 'genai_otel.evaluation.traces',
  'unit': '{trace}'}]

EVALUATION_METRIC_BUCKETS = {'score': [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]}

EVENTS = {'gen_ai.client.inference.operation.details': {'attributes': ['gen_ai.operation.name',
                                                              'gen_ai.provider.name',
                                                              'gen_ai.request.model',
                                                              'gen_ai.response.model',
                                                              'gen_ai.response.id',
                                                              'gen_ai.response.finish_reasons',
                                                              'gen_ai.usage.input_tokens',
                                                              'gen_ai.usage.output_tokens',
                                                              'error.type',
                                                              'gen_ai.input.messages_ref',
                                                              'gen_ai.output.messages_ref',
                                                              'gen_ai.system_instructions_ref',
                                                              'gen_ai.tool.definitions_ref'],
                                               'brief': "Details of one inference operation: the span's "
                                                        'request/response attributes, plus message content '
                                                        'when capture mode includes events. Emitted when '
                                                        'OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT is true or '
                                                        'the capture mode is EVENT_ONLY / SPAN_AND_EVENT.',
                                               'content_attributes': ['gen_ai.input.messages',
                                                                      'gen_ai.output.messages',
                                                                      'gen_ai.system_instructions',
                                                                      'gen_ai.tool.definitions']},
 'gen_ai.evaluation.result': {'attributes': ['gen_ai.evaluation.name',
                                             'gen_ai.evaluation.score.value',
                                             'gen_ai.evaluation.score.label',
                                             'gen_ai.evaluation.explanation',
                                             'gen_ai.response.id',
                                             'error.type'],
                              'brief': 'The result of evaluating a GenAI operation, tied to the evaluated '
                                       "span (emitted asynchronously by genai-otel's evaluation hooks, "
                                       'genai_otel.processor.evaluation).',
                              'content_attributes': []}}
