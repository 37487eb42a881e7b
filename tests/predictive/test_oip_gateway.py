"""OIP v2 inference through the gateway against real KServe and MLflow servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import GatewayThread, free_port
from tripoint.config import parse_settings

# iris rows: a versicolor (class 1) and a setosa (class 0)
ROWS = [[6.8, 2.8, 4.8, 1.4], [5.0, 3.4, 1.5, 0.2]]
IRIS = {
    "id": "req-1",
    "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": ROWS}],
}


def settings(kserve: str, mlflow: str = "http://127.0.0.1:9") -> str:
    dead = f"http://127.0.0.1:{free_port()}"
    return f"""
backends:
  kserve:
    type: kserve
    base_url: {kserve}
    timeouts: {{connect: 2, first_byte: 10, idle: 10, total: 30}}
  mlflow:
    type: mlflow
    base_url: {mlflow}
    columns: [sepal_length, sepal_width, petal_length, petal_width]
    output_name: class
    timeouts: {{connect: 2, first_byte: 20, idle: 20, total: 30}}
  down:
    type: kserve
    base_url: {dead}
    timeouts: {{connect: 1, first_byte: 2, idle: 2, total: 5}}
  chat:
    type: openai
    base_url: {dead}/v1
models:
  iris:
    targets: [{{backend: kserve, model: iris}}]
    operations: [predict]
  iris-mlflow:
    targets: [{{backend: mlflow, model: iris}}]
    operations: [predict]
  iris-fallback:
    targets: [{{backend: down, model: iris}}, {{backend: kserve, model: iris}}]
    operations: [predict]
  iris-down:
    targets: [{{backend: down, model: iris}}]
    operations: [predict]
  chat-only:
    targets: [{{backend: chat, model: m}}]
"""


@pytest.fixture(scope="module")
def oip(kserve_url: str) -> Iterator[httpx.Client]:
    server = GatewayThread(parse_settings(settings(kserve_url))).start()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
    server.stop()


def test_classifies_with_a_real_kserve_model(oip: httpx.Client, kserve_url: str) -> None:
    direct = httpx.post(f"{kserve_url}/v2/models/iris/infer", json=IRIS).json()

    answer = oip.post("/v2/models/iris/infer", json=IRIS)

    assert answer.status_code == 200
    assert answer.headers["x-tripoint-backend"] == "kserve"
    body = answer.json()
    assert body["model_name"] == "iris"
    assert body["id"] == "req-1"
    assert body["outputs"] == [
        {"name": "output-0", "shape": [2], "datatype": "INT64", "data": [1, 0]}
    ]
    assert body["outputs"][0]["data"] == direct["outputs"][0]["data"]


def test_a_versioned_path_reaches_the_servers_versioned_path(oip: httpx.Client) -> None:
    answer = oip.post("/v2/models/iris/versions/1/infer", json=IRIS)

    # KServe routes /versions/{v}/infer but answers 501 (Triton serves versions)
    assert answer.status_code == 502
    assert "501: Model versioning not supported" in answer.json()["error"]["message"]


def test_flat_data_is_read_row_major(oip: httpx.Client) -> None:
    flat = {"inputs": [{**IRIS["inputs"][0], "data": [x for row in ROWS for x in row]}]}  # type: ignore[index, dict-item]

    answer = oip.post("/v2/models/iris/infer", json=flat)

    assert answer.json()["outputs"][0]["data"] == [1, 0]


def test_metadata_and_readiness_come_from_the_model_server(oip: httpx.Client) -> None:
    meta = oip.get("/v2/models/iris")
    ready = oip.get("/v2/models/iris/ready")

    assert meta.status_code == 200
    assert meta.json()["name"] == "iris"
    assert meta.json()["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta.json()["outputs"] == [{"name": "output-0", "datatype": "INT64", "shape": [-1]}]
    assert ready.status_code == 200
    assert ready.json() == {"name": "iris", "ready": True}


def test_a_down_model_server_is_not_ready(oip: httpx.Client) -> None:
    answer = oip.get("/v2/models/iris-down/ready")

    assert answer.status_code == 503
    assert answer.json()["ready"] is False


def test_falls_back_to_the_next_model_server(oip: httpx.Client) -> None:
    answer = oip.post("/v2/models/iris-fallback/infer", json=IRIS)

    assert answer.status_code == 200
    assert answer.headers["x-tripoint-backend"] == "kserve"


def test_an_unreachable_model_server_is_a_502(oip: httpx.Client) -> None:
    answer = oip.post("/v2/models/iris-down/infer", json=IRIS)

    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize(
    ("tensor", "problem"),
    [
        ({"shape": [2, 4], "data": [1.0, 2.0, 3.0]}, "needs 8 elements, data has 3"),
        ({"shape": [1, 4], "datatype": "INT8", "data": [1, 2, 3, 999]}, "not a valid INT8"),
        ({"shape": [1, 4], "datatype": "FP32", "data": [1, "a", 3, 4]}, "not a valid FP32"),
        ({"shape": [1, 4], "datatype": "FP32", "data": [1, None, 3, 4]}, "element 1 (None)"),
        ({"shape": [1, -4], "data": []}, "non-negative"),
        ({"shape": [2, 2], "data": [[1, 2, 3], [4]]}, "ragged"),
        ({"shape": [2, 2], "data": [[1, 2, 3, 4]]}, "does not match shape"),
        ({"datatype": "FP128"}, "Input should be"),
    ],
)
def test_a_malformed_tensor_is_a_400_before_any_model_server_is_called(
    oip: httpx.Client, tensor: dict[str, object], problem: str
) -> None:
    body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", **tensor}]}

    answer = oip.post("/v2/models/iris/infer", json=body)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert problem in error["message"]
    assert error["param"].startswith("inputs.0")


def test_the_model_servers_own_rejection_is_a_400_with_its_message(oip: httpx.Client) -> None:
    three_features = {
        "inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]
    }

    answer = oip.post("/v2/models/iris/infer", json=three_features)

    assert answer.status_code == 400
    assert "expected shape [N, 4]" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/nope/infer"),
        ("GET", "/v2/models/nope"),
        ("POST", "/v2/models/chat-only/infer"),
        ("GET", "/v2/models/chat-only/ready"),
    ],
)
def test_models_without_a_predict_route_are_404(oip: httpx.Client, method: str, path: str) -> None:
    answer = oip.request(method, path, json=IRIS)

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"inputs": "x"}'])
def test_a_bad_body_is_a_400(oip: httpx.Client, body: bytes) -> None:
    answer = oip.post(
        "/v2/models/iris/infer", content=body, headers={"content-type": "application/json"}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


@pytest.fixture(scope="module")
def with_mlflow(kserve_url: str, mlflow_url: str) -> Iterator[httpx.Client]:
    server = GatewayThread(parse_settings(settings(kserve_url, mlflow_url))).start()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
    server.stop()


@pytest.mark.slow
class TestMLflow:
    def test_a_2d_tensor_becomes_a_dataframe_with_the_configured_columns(
        self, with_mlflow: httpx.Client
    ) -> None:
        answer = with_mlflow.post("/v2/models/iris-mlflow/infer", json=IRIS)

        assert answer.status_code == 200, answer.text
        assert answer.headers["x-tripoint-backend"] == "mlflow"
        body = answer.json()
        assert body["model_name"] == "iris-mlflow"
        assert body["id"] == "req-1"
        assert body["outputs"] == [
            {"name": "class", "shape": [2], "datatype": "INT64", "data": [1, 0]}
        ]

    def test_named_1d_tensors_become_dataframe_columns(self, with_mlflow: httpx.Client) -> None:
        names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        columns = {
            "inputs": [
                {"name": name, "shape": [2], "datatype": "FP64", "data": [ROWS[0][i], ROWS[1][i]]}
                for i, name in enumerate(names)
            ]
        }

        answer = with_mlflow.post("/v2/models/iris-mlflow/infer", json=columns)

        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [1, 0]

    def test_mlflow_agrees_with_kserve(self, with_mlflow: httpx.Client) -> None:
        mlflow = with_mlflow.post("/v2/models/iris-mlflow/infer", json=IRIS).json()
        kserve = with_mlflow.post("/v2/models/iris/infer", json=IRIS).json()

        assert mlflow["outputs"][0]["data"] == kserve["outputs"][0]["data"]

    def test_a_schema_mismatch_is_mlflows_400_without_its_stack_trace(
        self, with_mlflow: httpx.Client
    ) -> None:
        wrong = {
            "inputs": [{"name": "sepal_length", "shape": [1], "datatype": "FP64", "data": [1.0]}]
        }

        answer = with_mlflow.post("/v2/models/iris-mlflow/infer", json=wrong)

        assert answer.status_code == 400
        message = answer.json()["error"]["message"]
        assert "missing inputs" in message
        assert "Traceback" not in message

    def test_the_wrong_column_count_is_a_400_at_the_gateway(
        self, with_mlflow: httpx.Client
    ) -> None:
        wrong = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}

        answer = with_mlflow.post("/v2/models/iris-mlflow/infer", json=wrong)

        assert answer.status_code == 400
        assert "has 3 columns; the model takes 4" in answer.json()["error"]["message"]

    def test_a_version_is_refused_for_mlflow(self, with_mlflow: httpx.Client) -> None:
        answer = with_mlflow.post("/v2/models/iris-mlflow/versions/2/infer", json=IRIS)

        assert answer.status_code == 400
        assert "one model version" in answer.json()["error"]["message"]

    def test_readiness_comes_from_mlflows_ping(self, with_mlflow: httpx.Client) -> None:
        assert with_mlflow.get("/v2/models/iris-mlflow/ready").json() == {
            "name": "iris-mlflow",
            "ready": True,
        }


def test_predictions_pass_the_same_limits_as_chat(kserve_url: str) -> None:
    limited = settings(kserve_url) + "limits:\n  models:\n    iris: {requests_per_minute: 2}\n"
    server = GatewayThread(parse_settings(limited)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answers = [http.post("/v2/models/iris/infer", json=IRIS) for _ in range(3)]
    finally:
        server.stop()

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "rate_limit_exceeded"
    assert "retry-after" in answers[2].headers


def test_predictions_need_a_key_when_auth_is_on(
    kserve_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OIP_TEST_ADMIN_KEY", "admin-" + "k" * 40)
    monkeypatch.setenv("OIP_TEST_PEPPER", "pepper-" + "p" * 32)
    monkeypatch.setenv("OIP_TEST_DSN", f"sqlite:///{tmp_path}/tripoint.db")
    guarded = (
        settings(kserve_url)
        + f"""
server: {{data_dir: {tmp_path}}}
storage: {{url: env:OIP_TEST_DSN}}
auth: {{pepper: env:OIP_TEST_PEPPER, bootstrap_admin_key: env:OIP_TEST_ADMIN_KEY}}
"""
    )
    server = GatewayThread(parse_settings(guarded)).start()
    admin = {"Authorization": "Bearer admin-" + "k" * 40}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            stranger = http.post("/v2/models/iris/infer", json=IRIS)
            stranger_meta = http.get("/v2/models/iris")
            allowed = http.post("/v2/models/iris/infer", json=IRIS, headers=admin)
            allowed_meta = http.get("/v2/models/iris", headers=admin)
            recorded = ledger_rows(http, admin)
    finally:
        server.stop()

    assert stranger.status_code == 401
    assert stranger_meta.status_code == 401
    assert allowed.status_code == 200
    assert allowed.json()["outputs"][0]["data"] == [1, 0]
    assert allowed_meta.status_code == 200
    assert {(r["operation"], r["backend"], r["status"]) for r in recorded} == {
        ("predict", "kserve", 200)
    }


def ledger_rows(http: httpx.Client, admin: dict[str, str]) -> list[dict[str, object]]:
    """The ledger's records of model `iris`, once its batch writer has flushed (0.5 s)."""
    deadline = time.monotonic() + 10
    while True:
        rows: list[dict[str, object]] = http.get(
            "/admin/calls", params={"model": "iris"}, headers=admin
        ).json()["data"]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)
