// Publishing from a coroutine: waits, without blocking the thread, until the
// bus has stored the batch (or refused it).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "bus/bus.h"
#include "ingest/source_counters.h"

namespace lode {

// The bus's answer for `batch`: OK once durable, ResourceExhausted at once
// when its queue is full, Unavailable when it is stopping, or the store's
// error. The coroutine resumes on its own executor.
inline boost::asio::awaitable<Status> PublishAndWait(Bus* bus, RecordBatch batch) {
  namespace asio = boost::asio;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(
      [bus](auto handler, RecordBatch b) {
        auto ex = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto complete = [shared, ex](const Status& st) {
          asio::post(ex, [shared, st]() mutable { (*shared)(st); });
        };
        Status s = bus->Publish(std::move(b), complete);
        if (!s.ok()) complete(s);
      },
      asio::use_awaitable, std::move(batch));
}

// PublishAndWait, with the outcome counted in *counters: the records as
// accepted, a full queue as pushed back, any other error as failed.
inline boost::asio::awaitable<Status> PublishCounted(Bus* bus, RecordBatch batch,
                                                     SourceCounters* counters) {
  const size_t records = batch.records.size();
  Status st = co_await PublishAndWait(bus, std::move(batch));
  if (st.ok()) {
    counters->accepted += records;
  } else if (st.code() == StatusCode::kResourceExhausted) {
    ++counters->pushed_back;
  } else {
    ++counters->failed;
  }
  co_return st;
}

}  // namespace lode
