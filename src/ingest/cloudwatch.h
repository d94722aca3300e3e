// CloudWatch Logs subscription payloads (issue 6, item 6), as AWS delivers
// them: a subscription filter hands a Lambda function (or a Firehose stream)
// `base64(gzip(JSON))` of
//
//   {"messageType": "DATA_MESSAGE", "owner": "123456789012",
//    "logGroup": "/aws/lambda/checkout", "logStream": "2024/11/14/[$LATEST]ab12",
//    "subscriptionFilters": ["to-lode"],
//    "logEvents": [{"id": "3195...", "timestamp": 1731596464000, "message": "..."}]}
//
// Each event becomes a record: logGroup → service, logStream → instance,
// timestamp (ms) → timestamp, the level read from the message (as for plain
// container output), owner and event id → attributes, source "cloudwatch".
// "CONTROL_MESSAGE" payloads (sent when a subscription is created) hold no
// logs and are skipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace lode {

struct CloudWatchOutcome {
  size_t events = 0;    // records appended
  size_t rejected = 0;  // events that were not usable
  bool control = false;
  std::vector<std::string> errors;  // the first few reasons, naming the event
};

// Parses one payload: the JSON above, or its gzip (recognized by the gzip
// magic bytes; decoded output capped at `max_decoded` bytes). Appends the
// events' records to batch->records (tenant = batch->tenant). A payload that
// is not one (bad gzip, not JSON, no logGroup or logEvents) is
// InvalidArgument naming what is missing; a bad event only counts in
// *outcome, the other events are kept.
Status ParseCloudWatchPayload(std::string_view data, int64_t received_ns, size_t max_decoded,
                              RecordBatch* batch, CloudWatchOutcome* outcome);

// Standard base64 (RFC 4648 §4, padding optional, no whitespace).
// InvalidArgument naming the offset of a bad character.
Result<std::string> DecodeBase64(std::string_view in);

}  // namespace lode
