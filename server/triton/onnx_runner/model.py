"""Generic Triton python-backend model that runs the version's `model.onnx` with ONNX Runtime.

The embedded Triton (the `tritonserver` binary of the `nvidia-pytriton` wheel) ships only
the python backend, so every ONNX model of `model_repository/` is served through this one
runner: CUDA execution provider when the instance is on a GPU, else the CPU. Input and
output names and dtypes come from the model config, never from this file. Only the
outputs some request of a batch asks for are computed and returned (an image model's
`feature_map` costs copies that plain embedding calls do not need).
"""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _providers(args, params):
    if args["model_instance_kind"] == "GPU" and "CUDAExecutionProvider" in ort.get_available_providers():
        # EXHAUSTIVE (the default) re-benchmarks cuDNN for every new batch shape, which
        # dynamic batching produces all the time.
        cuda = {
            "device_id": int(args["model_instance_device_id"]),
            "cudnn_conv_algo_search": params.get("cudnn_conv_algo_search", "HEURISTIC"),
        }
        return [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "0"))
        # Triton and the gateway share the cores: don't let idle ORT threads spin on them.
        options.add_session_config_entry("session.intra_op.allow_spinning", params.get("allow_spinning", "0"))
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.session = ort.InferenceSession(str(path), options, providers=_providers(args, params))
        self.input_names = [i["name"] for i in config["input"]]
        self.outputs = {o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]}

    def execute(self, requests):
        # Requests whose inputs have the same shape (past the batch axis) run as one batch.
        groups: dict[tuple, list[tuple[int, list, list]]] = {}
        for index, request in enumerate(requests):
            arrays = [pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in self.input_names]
            key = tuple(a.shape[1:] for a in arrays)
            wanted = [n for n in request.requested_output_names() if n in self.outputs] or list(self.outputs)
            groups.setdefault(key, []).append((index, arrays, wanted))
        responses = [None] * len(requests)
        for members in groups.values():
            for index, response in self._run(members):
                responses[index] = response
        return responses

    def _run(self, members):
        feeds = {
            name: np.concatenate([arrays[i] for _, arrays, _ in members])
            for i, name in enumerate(self.input_names)
        }
        names = [n for n in self.outputs if any(n in wanted for _, _, wanted in members)]
        try:
            results = self.session.run(names, feeds)
        except Exception as error:  # ORT raises many types; the caller gets the message
            failure = pb_utils.TritonError(f"onnxruntime: {error}")
            return [(index, pb_utils.InferenceResponse(error=failure)) for index, _, _ in members]
        sizes = np.cumsum([arrays[0].shape[0] for _, arrays, _ in members])[:-1]
        split = {name: np.split(r, sizes) for name, r in zip(names, results, strict=True)}
        return [
            (
                index,
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor(name, np.ascontiguousarray(split[name][m], dtype=self.outputs[name]))
                        for name in names
                        if name in wanted
                    ]
                ),
            )
            for m, (index, _, wanted) in enumerate(members)
        ]
