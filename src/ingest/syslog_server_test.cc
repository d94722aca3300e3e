#include "ingest/syslog_server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace lode {
namespace {

namespace asio = boost::asio;

// A bus that stores in memory and can be made to look full.
class FakeBus : public Bus {
 public:
  Status Publish(RecordBatch&& batch, DoneFn done) override {
    if (full_) return Status::ResourceExhausted("full");
    {
      std::lock_guard lock(mu_);
      for (auto& r : batch.records) messages_.push_back(r.message);
    }
    done(Status::OK());
    return Status::OK();
  }
  void Stop() override {}
  BusStats Stats() const override {
    BusStats s;
    s.budget_bytes = 1000;
    s.queued_bytes = full_ ? 2000 : 0;
    return s;
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::atomic<bool> full_{false};

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
};

std::vector<std::string> WaitFor(const FakeBus& bus, size_t n) {
  for (int i = 0; i < 500 && bus.messages().size() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return bus.messages();
}

std::unique_ptr<SyslogServer> Start(FakeBus* bus) {
  SyslogServer::Options o;
  o.udp_host = "127.0.0.1";
  o.tcp_host = "127.0.0.1";
  o.max_message_bytes = 1000;
  auto s = SyslogServer::Start(o, bus);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(SyslogServerTest, TcpFramingsMixAndAFullQueuePausesReading) {
  FakeBus bus;
  auto server = Start(&bus);
  ASSERT_NE(server, nullptr);
  bus.full_ = true;
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server->tcp_port()});
  // Octet-counted, LF-framed, CRLF-framed, and a frame split over writes.
  const std::string counted = "<13>1 - h app - - - first";
  std::string data = std::to_string(counted.size()) + " " + counted +
                     "<13>Nov 14 15:01:04 h app: second\n<13>Nov 14 15:01:04 h app: third\r\n";
  asio::write(sock, asio::buffer(data));
  // The server reads, finds the queue full and waits (however long that takes here).
  for (int i = 0; i < 1000 && server->tcp_counters().pushed_back.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(server->tcp_counters().pushed_back.load(), 1u);
  EXPECT_TRUE(bus.messages().empty()) << "nothing is published while the queue is full";
  EXPECT_EQ(server->tcp_counters().dropped.load(), 0u);
  bus.full_ = false;
  asio::write(sock, asio::buffer(std::string("<13>Nov 14 15:01:04 h app: fou")));
  asio::write(sock, asio::buffer(std::string("rth\n")));
  auto got = WaitFor(bus, 4);
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "third", "fourth"}));
  EXPECT_EQ(server->tcp_counters().accepted.load(), 4u);
}

TEST(SyslogServerTest, BadMessagesAreCountedAndOversizedFramesCloseTheConnection) {
  FakeBus bus;
  auto server = Start(&bus);
  ASSERT_NE(server, nullptr);
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server->tcp_port()});
  asio::write(sock, asio::buffer(std::string("no pri here\n<13>Nov 14 15:01:04 h app: kept\n")));
  EXPECT_EQ(WaitFor(bus, 1), (std::vector<std::string>{"kept"}));
  EXPECT_EQ(server->tcp_counters().rejected.load(), 1u);
  asio::write(sock, asio::buffer(std::string("5000 <13>")));  // over max_message_bytes
  char c;
  boost::system::error_code ec;
  sock.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec) << "the server closes the connection";
  EXPECT_EQ(server->tcp_counters().rejected.load(), 2u);
}

TEST(SyslogServerTest, UdpDropsAreCountedWhenTheQueueIsFull) {
  FakeBus bus;
  auto server = Start(&bus);
  ASSERT_NE(server, nullptr);
  asio::io_context io;
  asio::ip::udp::socket sock(io);
  sock.open(asio::ip::udp::v4());
  const asio::ip::udp::endpoint to(asio::ip::make_address("127.0.0.1"), server->udp_port());
  sock.send_to(asio::buffer(std::string("<13>1 - h app - - - one")), to);
  EXPECT_EQ(WaitFor(bus, 1), (std::vector<std::string>{"one"}));
  bus.full_ = true;
  sock.send_to(asio::buffer(std::string("<13>1 - h app - - - lost")), to);
  for (int i = 0; i < 500 && server->udp_counters().dropped.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->udp_counters().dropped.load(), 1u);
  EXPECT_EQ(server->udp_counters().accepted.load(), 1u);
  EXPECT_EQ(bus.messages().size(), 1u);
}

}  // namespace
}  // namespace lode
