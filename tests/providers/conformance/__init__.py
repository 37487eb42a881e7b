"""The chat provider conformance suite: one set of tests every chat backend type must pass.

What it checks, for every case (`test_chat_conformance.py`): plain text, multi-turn history,
system prompt, tools translated to the native format and a tool call answered, tool results
in history, streamed text (also when frames are split across reads, down to single bytes),
concurrent calls each with its own whole answer, streamed tool-call argument deltas
reassembled, usage present, upstream 400/401/429 (Retry-After)/500 and
timeouts mapped to the right Tripoint error, a truncated or stalled stream surfaced as an
error, and garbage (invalid JSON, an HTML error page, the wrong content type, JSON of the
wrong shape, a stream cut mid-frame, a corrupt frame) giving a clean `UpstreamError`.

Each case runs the real provider, built from config by `providers.registry.build_provider`,
against a loopback `ReplayServer` (tests/fakes/replay_upstream.py) that replays recorded wire
fixtures in the provider's own format and records what it received.

The contract, which is OpenAI's own shape (tests/providers/test_openai_sdk_answers.py also
holds every case to it through the real gateway and the official `openai` SDK):
- a non-streamed answer is one chunk: role `assistant`, the text (None when the answer is
  only tool calls), tool calls with id, name and JSON arguments, an OpenAI `finish_reason`
  (`stop`, `length`, `tool_calls`, `content_filter`) and usage;
- a stream starts with a chunk carrying role `assistant` and empty text, then text pieces and
  tool-call deltas (a call's id, type and name once, in its first delta; then argument
  pieces under the same index), then one chunk with the `finish_reason`, and last a chunk
  with usage and no choices; an upstream that stops before its own end marker is an error;
- every failure is a `tripoint.errors.UpstreamError` built by `providers/status.py`.

How to plug a new chat backend type in (nothing else to edit; cases are discovered):

1. Write fixtures under `tests/providers/fixtures/<name>/`, from the provider's public API
   documentation (exact event names and fields):
   - answers: `text.json`, `tool_call.json` (non-streamed), `text.<ext>`, `tool_call.<ext>`
     (streamed; `<ext>` is `case.stream_suffix`, `sse` by default), and `error_400.json`,
     `error_401.json`, `error_429.json`, `error_500.json` in the provider's error format.
     Optional: `stream_error.<ext>`, an answer that starts and then fails with the
     provider's in-stream error event (the test is skipped for providers that have none).
     The text answers say `Expected.text`; the tool call answers call `get_weather` with
     `Expected.tool_arguments`, the streamed one in at least two argument pieces.
   - requests the provider must send, one per scenario of `scenarios.py`:
     `request_plain.json`, `request_multi_turn.json`, `request_system.json`,
     `request_tools.json`, `request_tool_result.json`, `request_stream.json`.
2. Add `tests/providers/conformance/cases/<name>.py` defining `CASE = ProviderCase(...)`
   (see `case.py`): the backend's config for a given base URL (as it would be written in
   YAML, secrets as `env:` references with their values in `env`), the model, the path each
   request must go to, the headers it must carry, and the expected results. Binary or
   non-SSE streams (AWS event stream, NDJSON) set `stream_content_type`, `stream_suffix`,
   `frames` (split a stream fixture into frames) and `garbage_frame`. Headers a recorded
   answer came with go in `reply_headers`. A native API without tools sets `tools=False`
   (the suite then checks that tools are refused with a 400 and nothing is sent); one that
   sends tool calls whole and without ids sets `tool_arguments_in_pieces=False` and
   `tool_call_ids="generated"`. Checks the generic ones cannot express (a SigV4 signature
   verified with botocore) go in `check_request`. Stream fixtures stored in a readable form
   (Bedrock's events as JSON) set `encode_stream` to make the wire bytes; a backend that
   needs another endpoint answered (Vertex's OAuth token endpoint) sets `prepare`, which gives
   the replay server a standing reply.
3. Run `pytest tests/providers -k <name>`.
"""
