"""A real KServe ModelServer serving an iris classifier it trains at start-up (run as a script).

Usage: python -m tests.predictive.kserve_iris --http_port PORT --model_name NAME
KServe parses its own flags from argv at import, so this runs in its own process.
"""

from __future__ import annotations

import argparse

import kserve
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class IrisClassifier(kserve.Model):
    """Four FP32 features in, the iris class (INT64) out, one row per instance."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.classifier: LogisticRegression | None = None

    def load(self) -> bool:
        features, labels = load_iris(return_X_y=True)
        self.classifier = LogisticRegression(max_iter=1000).fit(features, labels)
        self.ready = True
        return self.ready

    def get_input_types(self) -> list[dict[str, object]]:
        return [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}]

    def get_output_types(self) -> list[dict[str, object]]:
        return [{"name": "output-0", "datatype": "INT64", "shape": [-1]}]

    async def predict(
        self,
        payload: InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse:
        assert self.classifier is not None
        features = payload.inputs[0].as_numpy()
        if features.ndim != 2 or features.shape[1] != 4:
            raise kserve.errors.InvalidInput(f"expected shape [N, 4], got {list(features.shape)}")
        classes = self.classifier.predict(features).astype(np.int64)
        output = InferOutput(name="output-0", shape=list(classes.shape), datatype="INT64")
        output.set_data_from_numpy(classes)
        return InferResponse(
            response_id=payload.id or "", model_name=self.name, infer_outputs=[output]
        )


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    args, _ = parser.parse_known_args()
    model = IrisClassifier(args.model_name or "iris")
    model.load()
    kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main()
