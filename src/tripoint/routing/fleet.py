"""The live state of every target: breaker, in-flight calls, latency, health, remote load.

One Fleet per gateway (no module state). Strategies read it; the router writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tripoint.config.routing import Admission, Breaker
from tripoint.providers.target import Target
from tripoint.routing.admission import AdmissionGate
from tripoint.routing.breaker import CircuitBreaker

_EWMA = 0.3


@dataclass(slots=True)
class BackendStatus:
    """What active health checks learned about a backend (shared by all its targets)."""

    healthy: bool = True
    remote_waiting: float = 0.0  # requests queued on the server itself, from its /metrics


@dataclass(slots=True)
class TargetState:
    breaker: CircuitBreaker
    backend: BackendStatus
    in_flight: int = 0
    ttft: float | None = None  # EWMA of seconds to the first chunk

    def observe_first_chunk(self, seconds: float) -> None:
        self.ttft = seconds if self.ttft is None else self.ttft + _EWMA * (seconds - self.ttft)

    @property
    def healthy(self) -> bool:
        return self.backend.healthy

    @property
    def load(self) -> float:
        return self.in_flight + self.backend.remote_waiting


@dataclass(slots=True)
class Fleet:
    breakers: dict[str, Breaker]  # backend name -> policy
    admissions: dict[str, Admission]  # backend name -> policy, self-hosted backends only
    _targets: dict[str, TargetState] = field(default_factory=dict)
    _gates: dict[str, AdmissionGate] = field(default_factory=dict)
    _backends: dict[str, BackendStatus] = field(default_factory=dict)
    active_requests: int = 0
    active_retries: int = 0

    def state(self, target: Target) -> TargetState:
        state = self._targets.get(target.label)
        if state is None:
            policy = self.breakers.get(target.backend.name, Breaker())
            status = self._backend(target.backend.name)
            state = self._targets[target.label] = TargetState(CircuitBreaker(policy), status)
        return state

    def gate(self, backend: str) -> AdmissionGate | None:
        policy = self.admissions.get(backend)
        if policy is None:
            return None
        gate = self._gates.get(backend)
        if gate is None:
            gate = self._gates[backend] = AdmissionGate(backend, policy)
        return gate

    def mark_backend(self, backend: str, *, healthy: bool, remote_waiting: float) -> None:
        status = self._backend(backend)
        status.healthy = healthy
        status.remote_waiting = remote_waiting

    def _backend(self, name: str) -> BackendStatus:
        status = self._backends.get(name)
        if status is None:
            status = self._backends[name] = BackendStatus()
        return status

    def snapshot(self) -> dict[str, dict[str, object]]:
        """For /readyz detail and metrics: every known target's state."""
        return {
            label: {
                "breaker": state.breaker.state.value,
                "in_flight": state.in_flight,
                "healthy": state.healthy,
                "ttft_ewma": state.ttft,
            }
            for label, state in sorted(self._targets.items())
        }

    def forget(self) -> None:
        """Drop what was learned (breakers, latency): a fresh start, as after a restart."""
        self._targets.clear()

    def gates(self) -> dict[str, AdmissionGate]:
        return dict(self._gates)
