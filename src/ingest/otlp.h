// OTLP/HTTP logs (issue 6, item 4): `POST /v1/logs` with an
// ExportLogsServiceRequest, as protobuf (application/x-protobuf) or as OTLP's
// JSON mapping (application/json: lowerCamelCase names, 64-bit integers as
// strings, trace and span ids as hex).
//
// Field numbers (opentelemetry/proto/logs/v1/logs.proto, common/v1, resource/v1):
//   ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
//   ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
//   Resource     { repeated KeyValue attributes = 1; }
//   ScopeLogs    { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
//   InstrumentationScope { string name = 1; string version = 2; }
//   LogRecord    { fixed64 time_unix_nano = 1; SeverityNumber severity_number = 2;
//                  string severity_text = 3; AnyValue body = 5;
//                  repeated KeyValue attributes = 6; bytes trace_id = 9; bytes span_id = 10;
//                  fixed64 observed_time_unix_nano = 11; }
//   KeyValue     { string key = 1; AnyValue value = 2; }
//   AnyValue     { oneof { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
//                  double double_value = 4; ArrayValue array_value = 5;
//                  KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
//   ArrayValue { repeated AnyValue values = 1; }  KeyValueList { repeated KeyValue values = 1; }
//
// Each log record becomes a Record: resource service.name → service;
// service.instance.id, else host.name, else k8s.pod.name → instance; the
// severity number (1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error,
// 21-24 fatal), else the severity text, else the body, → level; the time,
// else the observed time, else the arrival, → timestamp; the body (a string,
// or other values rendered as JSON) → message; resource and record
// attributes → attributes (keys as sent), with trace_id, span_id (hex) and
// otel.scope.name; source "otlp".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace lode {

struct OtlpOutcome {
  size_t rejected = 0;              // log records that could not be read
  std::vector<std::string> errors;  // the first few reasons
};

// Append the request's log records to batch->records. InvalidArgument (with
// the byte offset, or the JSON path) when the request itself is malformed.
Status ParseOtlpLogsProto(std::string_view proto, int64_t received_ns, RecordBatch* batch,
                          OtlpOutcome* outcome);
Status ParseOtlpLogsJson(std::string_view json, int64_t received_ns, RecordBatch* batch,
                         OtlpOutcome* outcome);

}  // namespace lode
