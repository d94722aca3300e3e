// SyslogServer: syslog over UDP and TCP into the bus (issue 6).
//
// UDP: one message per datagram. What is readable at once is parsed into one
// batch and published; when the bus is full the batch is dropped and counted
// (UDP has no way to push back).
// TCP: messages framed by octet counting (RFC 6587 3.4.1: "LEN SP MSG") or
// by LF (3.4.2), recognized per message by its first byte (a digit: octet
// counting). Each read's complete messages form one batch, and the
// connection reads on only once the bus has stored it, so a full queue pauses
// the sender (TCP backpressure) instead of growing memory.
// Messages are parsed by ParseSyslog (RFC 5424 and RFC 3164, parse/syslog.h);
// one that does not parse is counted as rejected and logged (at most once a
// second), the others of its batch are kept.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "bus/bus.h"
#include "common/clock.h"
#include "common/status.h"
#include "ingest/source_counters.h"

namespace lode {

class SyslogServer {
 public:
  struct Options {
    std::string udp_host;   // empty = no UDP
    uint16_t udp_port = 0;  // 0: any free port (see udp_port())
    std::string tcp_host;   // empty = no TCP
    uint16_t tcp_port = 0;
    std::string tenant{kDefaultTenant};
    size_t max_message_bytes = 64 << 10;  // a longer TCP frame closes the connection
    size_t max_batch_records = 5000;
    Clock* clock = Clock::Real();
  };

  // Binds the sockets and starts one I/O thread. REQUIRES: bus outlives it.
  static Result<std::unique_ptr<SyslogServer>> Start(const Options& options, Bus* bus);
  ~SyslogServer();
  // Stops reading; batches already handed to the bus are stored. Idempotent.
  void Stop();

  uint16_t udp_port() const { return udp_port_; }
  uint16_t tcp_port() const { return tcp_port_; }
  const SourceCounters& udp_counters() const { return udp_counters_; }
  const SourceCounters& tcp_counters() const { return tcp_counters_; }

 private:
  struct Impl;
  SyslogServer() = default;

  std::unique_ptr<Impl> impl_;
  uint16_t udp_port_ = 0;
  uint16_t tcp_port_ = 0;
  SourceCounters udp_counters_;
  SourceCounters tcp_counters_;
};

}  // namespace lode
