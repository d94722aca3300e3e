// The YAML shape of file inputs, shared by `lode serve` (files.inputs) and
// `lode agent` (inputs):
//
//   - paths: [/var/log/pods/*/*/*.log]   # globs (a single string is fine too)
//     exclude: ["*/kube-system_*"]        # globs matched against the whole path
//     format: auto                        # auto, cri, docker, plain
//     service: ""                         # default: the pod's owner, else the file name
//     instance: ""                        # default: the pod, else the host name
//     labels: {env: prod}                 # attributes added to every record
//     multiline:
//       start: '^\S'                      # RE2: lines not matching continue the entry
//       max_lines: 500
//       timeout: 1s                       # an entry is given out after this long without a line
//     start_at: beginning                 # or end: skip what files hold at the first start
#pragma once

#include <yaml-cpp/yaml.h>

#include <vector>

#include "common/status.h"
#include "tail/file_tailer.h"

namespace lode {

// Parses a YAML sequence of inputs. InvalidArgument naming the item (1-based),
// its line and the key.
Status ParseFileInputs(const YAML::Node& node, std::vector<FileInput>* out);

}  // namespace lode
