package client

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// codeNames are the canonical names of google.rpc.Code (Go's codes.Code.String() spells
// them in CamelCase).
var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName is the canonical name of a status code, e.g. "INVALID_ARGUMENT"; "Code(<n>)"
// for a number outside google.rpc.Code.
func CodeName(code codes.Code) string {
	if name, ok := codeNames[code]; ok {
		return name
	}
	return code.String() // "Code(n)"
}

// IsStatus reports whether err came from the server or the gRPC runtime (a status error),
// as opposed to a local failure such as an unreadable file.
func IsStatus(err error) bool {
	_, ok := status.FromError(err)
	return ok && err != nil
}
