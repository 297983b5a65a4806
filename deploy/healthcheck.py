"""Docker HEALTHCHECK for the gateway: grpc.health.v1 Check on 127.0.0.1, exit 0 if SERVING.

Environment (all optional):
  HEALTHCHECK_PORT         gRPC port (default 50051)
  HEALTHCHECK_TLS_CA       PEM CA that signed the gateway's certificate: speak TLS
  HEALTHCHECK_TLS_NAME     name to check the certificate against (default: localhost)
  HEALTHCHECK_TLS_CLIENT_CERT / HEALTHCHECK_TLS_CLIENT_KEY   for a gateway run with --tls-client-ca
Health needs no API key.
"""

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    target = f"127.0.0.1:{os.environ.get('HEALTHCHECK_PORT', '50051')}"
    ca = os.environ.get("HEALTHCHECK_TLS_CA")
    if ca:
        cert = os.environ.get("HEALTHCHECK_TLS_CLIENT_CERT")
        key = os.environ.get("HEALTHCHECK_TLS_CLIENT_KEY")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=Path(ca).read_bytes(),
            private_key=Path(key).read_bytes() if key else None,
            certificate_chain=Path(cert).read_bytes() if cert else None,
        )
        name = os.environ.get("HEALTHCHECK_TLS_NAME", "localhost")
        channel = grpc.secure_channel(target, credentials, options=[("grpc.ssl_target_name_override", name)])
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=4)
        except grpc.RpcError as error:
            print(f"health: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    serving = response.status == health_pb2.HealthCheckResponse.SERVING
    print(f"health: {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
