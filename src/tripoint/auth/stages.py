"""The `authenticate` and `authorize` pipeline stages."""

from __future__ import annotations

from dataclasses import replace

from tripoint.auth.authenticator import Authenticator
from tripoint.auth.roles import Role
from tripoint.errors import ModelNotFoundError, PermissionDeniedError
from tripoint.pipeline.call import Call
from tripoint.pipeline.stage import ChunkStream, Next


class Authenticate:
    """Names the caller. The HTTP edge authenticates before it reads the body (so a stranger
    learns nothing, not even which models exist) and hands the principal on; calls that enter
    the pipeline another way (batch jobs) are authenticated here from their headers."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        if call.principal.kind == "anonymous":
            call = replace(call, principal=await self._authenticator.authenticate(call.headers))
            call.record.principal = call.principal
        elif call.principal.kind == "batch":  # recorded at submission: bring it up to date
            call = replace(call, principal=await self._authenticator.refresh(call.principal))
            call.record.principal = call.principal
        async for chunk in call_next(call):
            yield chunk


class Authorize:
    """May this principal use this model? A model it may not use does not exist for it."""

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        check(call)
        async for chunk in call_next(call):
            yield chunk


def check(call: Call) -> None:
    principal = call.principal
    if not Role(principal.role).covers(Role.MEMBER):
        raise PermissionDeniedError("Your role may not call models.")
    if not principal.may_use(call.model):
        raise ModelNotFoundError(
            f"The model {call.model!r} does not exist or you do not have access to it.",
            param="model",
        )
