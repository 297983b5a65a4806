// google.rpc.Status and google.rpc.BadRequest, decoded from the `grpc-status-details-bin`
// trailer the gateway sends with INVALID_ARGUMENT (see server/errors.py). Only the fields
// we read are declared, so the google/rpc protos need not ship with the client.
import type { Metadata } from "@grpc/grpc-js";
import * as protobuf from "protobufjs";

/** FieldViolation names one bad request field and why it is bad. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

const STATUS_DETAILS_KEY = "grpc-status-details-bin";
const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

const root = new protobuf.Root().add(
  new protobuf.Namespace("google.rpc")
    .add(
      new protobuf.Type("Status")
        .add(new protobuf.Field("code", 1, "int32"))
        .add(new protobuf.Field("message", 2, "string"))
        .add(new protobuf.Field("details", 3, "google.protobuf.Any", "repeated")),
    )
    .add(
      new protobuf.Type("BadRequest").add(
        new protobuf.Field("fieldViolations", 1, "FieldViolation", "repeated"),
      ),
    )
    .add(
      new protobuf.Type("FieldViolation")
        .add(new protobuf.Field("field", 1, "string"))
        .add(new protobuf.Field("description", 2, "string")),
    ),
);
root.add(
  new protobuf.Namespace("google.protobuf").add(
    new protobuf.Type("Any")
      .add(new protobuf.Field("typeUrl", 1, "string"))
      .add(new protobuf.Field("value", 2, "bytes")),
  ),
);
const statusType = root.lookupType("google.rpc.Status");
const badRequestType = root.lookupType("google.rpc.BadRequest");

interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

/** The BadRequest field violations carried by an error's trailers; [] when there are none. */
export function fieldViolations(metadata: Metadata | undefined): FieldViolation[] {
  const values = metadata?.get(STATUS_DETAILS_KEY) ?? [];
  if (values.length === 0 || typeof values[0] === "string") {
    return [];
  }
  try {
    const status = statusType.toObject(statusType.decode(values[0]), { arrays: true }) as {
      details: AnyMessage[];
    };
    return status.details
      .filter((detail) => detail.typeUrl === BAD_REQUEST_TYPE_URL)
      .flatMap((detail) => {
        const badRequest = badRequestType.toObject(badRequestType.decode(detail.value), {
          arrays: true,
          defaults: true,
        }) as { fieldViolations: FieldViolation[] };
        return badRequest.fieldViolations.map(({ field, description }) => ({ field, description }));
      });
  } catch {
    return []; // details are a courtesy: a malformed trailer must not hide the status itself
  }
}
