"""A loopback AWS Bedrock Runtime that checks SigV4 signatures and replays recorded answers
(Converse JSON, ConverseStream event-stream frames, InvokeModel embeddings, AWS errors)."""

from __future__ import annotations

import orjson
from aiohttp import web

from tests.fakes.eventstream import encode_events
from tests.fakes.loopback import LoopbackServer, Reply, fixture, fixture_json
from tests.fakes.sigv4 import AwsKey, verify

ACCESS_KEY = "AKIDTRIPOINTTEST"
SECRET_KEY = "tripoint/test/secret+KEY0123456789"
REGION = "eu-central-1"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS10cmlwb2ludA=="


class FakeBedrock(LoopbackServer):
    name = "fake-bedrock"

    def __init__(self, keys: dict[str, AwsKey] | None = None) -> None:
        super().__init__()
        self.keys = keys or {ACCESS_KEY: AwsKey(SECRET_KEY)}
        self.rejected: list[str] = []  # why each rejected signature failed
        self.api_keys = {API_KEY}  # Bedrock API keys, sent as `Authorization: Bearer ...`

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/model/{model}/{operation}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:  # noqa: PLR0911 (a router)
        raw, reply = await self.record(request)
        problem = self._check_credentials(request, raw)
        if problem is not None:
            self.rejected.append(problem)
            kind = (
                "InvalidSignatureException"
                if "signature" in problem
                else "UnrecognizedClientException"
            )
            return web.json_response(
                {"message": problem},
                status=403,
                headers={
                    "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.coral.service/"
                },
            )
        operation = request.match_info["operation"]
        if reply.body is not None:  # scripted raw bytes (garbage) replace any recorded answer
            return await self.send(request, reply, b"", "application/json")
        if reply.status >= 400:
            name = f"error_{reply.status}.json"
            kind = fixture_json("bedrock", "error_types.json")[name]
            return await self.send(
                request,
                reply,
                fixture("bedrock", name),
                "application/json",
                {
                    "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
                },
            )
        if operation == "converse":
            return await self.send(
                request,
                reply,
                fixture("bedrock", f"{reply.scenario}.json"),
                "application/json",
            )
        if operation == "converse-stream":
            if request.headers.get("Accept") != "application/vnd.amazon.eventstream":
                return web.json_response({"message": "Accept must be the event stream"}, status=406)
            events = fixture_json("bedrock", f"{reply.scenario}.events.json")
            return await self.send(
                request, reply, encode_events(events), "application/vnd.amazon.eventstream"
            )
        if operation == "invoke":
            return await self._embed(request, reply)
        return web.json_response({"message": "Unknown operation"}, status=404)

    def _check_credentials(self, request: web.Request, raw: bytes) -> str | None:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            known = authorization.removeprefix("Bearer ") in self.api_keys
            return None if known else "The security token included in the request is invalid."
        url = f"http://{request.host}{request.raw_path}"
        return verify(
            "POST", url, request.headers, raw, keys=self.keys, region=REGION, service="bedrock"
        )

    async def _embed(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        model = request.match_info["model"]
        body = self.calls[-1].body
        if "titan" in model:
            answer = fixture_json("bedrock", "titan_embed.json")
            # a distinct vector per text, so tests can check the order survives the fan-out
            answer["embedding"] = [float(len(body["inputText"])), *answer["embedding"][1:]]
            return await self.send(request, reply, orjson.dumps(answer), "application/json")
        answer = fixture_json("bedrock", "cohere_embed.json")
        rows = answer["embeddings"]
        answer["embeddings"] = [
            [float(len(text)), *rows[i % len(rows)][1:]] for i, text in enumerate(body["texts"])
        ]
        answer["texts"] = body["texts"]
        tokens = sum(len(t.split()) for t in body["texts"])
        return await self.send(
            request,
            reply,
            orjson.dumps(answer),
            "application/json",
            {"X-Amzn-Bedrock-Input-Token-Count": str(tokens)},
        )
