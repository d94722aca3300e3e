// Container log formats and Kubernetes log paths, as kubelet and Docker write
// them on a node.
//
// CRI (containerd, CRI-O; what kubelet's /var/log/pods holds):
//   2020-08-19T21:06:24.337499838Z stderr F message text
//   <RFC 3339 time> <stdout|stderr> <tags> <content>; the tag "P" marks a
//   partial line (the runtime split a long line; the rest follows, the last
//   piece tagged "F"). Tags may carry more after ':' ("F:x"), ignored.
// Docker json-file (/var/lib/docker/containers/<id>/<id>-json.log):
//   {"log":"message text\n","stream":"stdout","time":"2016-03-02T22:58:51.338462311Z"}
//   A line longer than 16 KiB is split into pieces whose "log" does not end
//   in "\n"; the piece that ends in "\n" completes it.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lode {

// One line of a container log, decoded.
struct ContainerLine {
  int64_t timestamp_ns = 0;
  std::string_view stream;   // "stdout" or "stderr"
  bool partial = false;      // more of this line follows
  std::string_view content;  // without the line's own "\n"
};

// Parses one CRI line (without its "\n"). `content` points into `line`.
// InvalidArgument naming the part that is wrong.
Status ParseCriLine(std::string_view line, ContainerLine* out);

// Parses one Docker json-file line. `content` and `stream` point into
// *scratch (unescaped text). REQUIRES: simdjson::SIMDJSON_PADDING readable
// bytes after the line's end.
Status ParseDockerLine(std::string_view line, simdjson::dom::parser* parser, std::string* scratch,
                       ContainerLine* out);

// What a Kubernetes log file's path says about its container.
struct PodLogPath {
  std::string namespace_name;
  std::string pod;
  std::string pod_uid;  // empty for /var/log/containers paths
  std::string container;
  std::string container_id;  // only from /var/log/containers paths
};

// Recognizes, under any prefix:
//   .../<namespace>_<pod>_<uid>/<container>/<restart>.log[.<rotation suffix>]  (/var/log/pods)
//   .../<pod>_<namespace>_<container>-<64 hex id>.log                         (/var/log/containers)
std::optional<PodLogPath> ParsePodLogPath(std::string_view path);

// The name of the controller that owns `pod`, from the names Kubernetes gives
// pods: "<deployment>-<pod-template-hash>-<5>", "<daemonset|job>-<5>",
// "<cronjob>-<schedule time>-<5>", "<statefulset>-<ordinal>". A name that fits
// none of these is returned as it is.
std::string_view PodOwnerName(std::string_view pod);

}  // namespace lode
